export { createLogger, type Logger, type LogLevel } from '@synddb/app-kit';
export {
  applicationsOf,
  configSchema,
  configShape,
  type RelayerConfig,
  type RelayerConfigInput,
} from './config/config-schema';
export { formatConfigTable, formatHelp } from './config/help';
export { parseRelayerArgs, resolveRelayerConfig } from './config/parse-config';
export {
  type ConfigProblem,
  RelayerConfigError,
  RelayerRequestError,
  RelayerStartupError,
} from './errors';
export { createRelayerApi, type RelayerApiOptions } from './http/create-relayer-api';
export { createRelayerMetrics, type RelayerMetrics } from './metrics';
export { type CliProcess, runCli, VERSION } from './run-cli';
export { type RelayerHandle, type StartRelayerOptions, startRelayer } from './start-relayer';
export {
  JOB_STATES,
  type Job,
  type JobEvent,
  type JobState,
  type JobStore,
  openJobStore,
  type StoredTransaction,
} from './store/job-store';
