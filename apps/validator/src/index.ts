export {
  type CreateLoggerOptions,
  createLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  type OptionMeta,
  optionRegistry,
} from '@synddb/app-kit';
export {
  type ConfigKey,
  configSchema,
  configShape,
  type ValidatorConfig,
  type ValidatorConfigInput,
} from './config/config-schema';
export { formatConfigTable, formatHelp } from './config/help';
export {
  type CliCommand,
  type Environment,
  listOptions,
  type OptionEntry,
  parseValidatorArgs,
  resolveValidatorConfig,
} from './config/parse-config';
export { type ConfigProblem, ValidatorConfigError, ValidatorStartupError } from './errors';
export { attachSyncLogging, formatSeconds, progressFields } from './log-sync-events';
export { openReplica, type Replica } from './replica';
export { type CliProcess, runCli, VERSION } from './run-cli';
export {
  type StartValidatorOptions,
  startValidator,
  type ValidatorHandle,
} from './start-validator';
export {
  runStateRootCommand,
  STATE_ROOT_USAGE,
  type StateRootCommandProcess,
} from './state-root-command';
export { type ConfiguredStorage, createStorage, resolveSequencerPubkey } from './storage';
