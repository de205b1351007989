export { BindAddressError, HttpApiConfigError, HttpApiError, ListenError } from './errors';
export {
  bindSyncMetrics,
  type SyncEventSource,
  type SyncEventsLike,
} from './metrics/bind-sync-metrics';
export {
  type CreateValidatorMetricsOptions,
  createValidatorMetrics,
  DURATION_BUCKETS,
  MESSAGE_TYPES,
  QUERY_LATENCY_BUCKETS,
  type ValidatorMetrics,
  WS_CHANNELS,
  WS_DROP_REASONS,
} from './metrics/create-validator-metrics';
export { type BindAddress, parseBindAddress } from './serve/parse-bind-address';
export {
  type ServedApi,
  type ServeValidatorApiOptions,
  serveValidatorApi,
} from './serve/serve-validator-api';
export { jsonInteger, jsonIntegerOrNull } from './status/json-integer';
export {
  evaluateReadiness,
  isRunning,
  type JsonInteger,
  type Readiness,
  type StatusJson,
  statusToJson,
} from './status/status-json';
export type {
  HaltReasonLike,
  SkippedGapLike,
  StatusProvider,
  SyncStateLike,
  ValidatorStatusLike,
} from './status/status-types';
export {
  type CreateValidatorApiOptions,
  createValidatorApi,
  type ResponseInfo,
} from './validator-api/create-validator-api';
export * from './ws/index';
