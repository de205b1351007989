export { BindAddressError, HttpApiConfigError, HttpApiError, ListenError } from './errors';
export {
  bodyLimitMiddleware,
  clientAddress,
  corsMiddleware,
  rateLimitMiddleware,
  UNLIMITED_PATHS,
} from './limits/http-limits';
export {
  createRateLimiter,
  type RateDecision,
  type RateLimiter,
  type RateLimiterOptions,
} from './limits/rate-limiter';
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
export { buildOpenApiDocument, type OpenApiOptions } from './openapi/openapi-document';
export {
  isQueryErrorCode,
  QUERY_ERROR_KINDS,
  QueryError,
  type QueryErrorCode,
} from './query/query-errors';
export {
  createQueryPool,
  type QueryPool,
  type QueryPoolOptions,
  type WorkerRequest,
  type WorkerResult,
} from './query/query-pool';
export { registerQueryRoutes, SEQUENCE_HEADER } from './query/query-routes';
export {
  errorResponseSchema,
  MAX_PARAMS,
  MAX_SQL_LENGTH,
  MAX_TIMEOUT_MS,
  type QueryRequest,
  queryGetSchema,
  queryParamsSchema,
  queryRequestSchema,
  queryResponseSchema,
  sequenceInputSchema,
} from './query/query-schemas';
export {
  createQueryService,
  QUERY_LATENCY_METRIC,
  type QueryInput,
  type QueryLimits,
  type QueryResult,
  type QueryService,
  type QueryServiceOptions,
  queryLatencyHistogram,
  queryResultJson,
  type SequenceSource,
  sequenceHeader,
  sequenceSourceFromEngine,
} from './query/query-service';
export {
  handleJsonRpc,
  MAX_RPC_BATCH,
  RPC_ERRORS,
  RPC_METHODS,
  type RpcContext,
  rpcBodySchema,
  rpcQueryParamsSchema,
  rpcRequestSchema,
} from './rpc/json-rpc';
export { registerRpcRoute } from './rpc/rpc-route';
export { type BindAddress, parseBindAddress } from './serve/parse-bind-address';
export {
  type ServedApi,
  type ServeValidatorApiOptions,
  serveValidatorApi,
} from './serve/serve-validator-api';
export {
  createSignatureApi,
  DEFAULT_SIGNATURE_MAX_LIST,
  type MessageSignature,
  type SignatureApiOptions,
} from './signature-api/create-signature-api';
export { normalizeMessageId } from './signature-api/normalize-message-id';
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
