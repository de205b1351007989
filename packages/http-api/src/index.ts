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
  type CreateValidatorMetricsOptions,
  createValidatorMetrics,
  type ValidatorMetrics,
} from './metrics/create-validator-metrics';
export { buildOpenApiDocument, type OpenApiOptions } from './openapi/openapi-document';
export {
  type QueryRoutesOptions,
  registerQueryRoutes,
  SEQUENCE_HEADER,
  sequenceHeader,
} from './query/query-routes';
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
  handleJsonRpc,
  MAX_RPC_BATCH,
  RPC_ERRORS,
  RPC_METHODS,
  type RpcContext,
  rpcBodySchema,
  rpcQueryParamsSchema,
  rpcRequestSchema,
} from './rpc/json-rpc';
export { type RpcRouteOptions, registerRpcRoute } from './rpc/rpc-route';
export {
  autoMaxConnections,
  type ConnectionLimits,
  type ConnectionLimitsOptions,
  createConnectionLimits,
  descriptorLimit,
  openDescriptors,
  type RefusalReason,
} from './serve/connection-limits';
export { type BindAddress, parseBindAddress } from './serve/parse-bind-address';
export {
  type ServedApi,
  type ServeValidatorApiOptions,
  serveValidatorApi,
} from './serve/serve-validator-api';
export {
  createSignatureApi,
  DEFAULT_SIGNATURE_MAX_LIST,
  MAX_REQUEST_ID_LOOKUP,
  type MessageSignature,
  type SignatureApiOptions,
} from './signature-api/create-signature-api';
export { normalizeMessageId } from './signature-api/normalize-message-id';
export {
  buildSignatureOpenApiDocument,
  type SignatureOpenApiOptions,
} from './signature-api/signature-openapi';
export {
  messageSignatureSchema,
  type PendingWithdrawalJson,
  pendingWithdrawalsSchema,
  refusedWithdrawalsSchema,
  type StateAttestationJson,
  stateAttestationSchema,
  type WithdrawalSignatureJson,
  withdrawalSignatureSchema,
} from './signature-api/signature-schemas';
export { createSigningMetrics, type SigningMetrics } from './signature-api/signing-metrics';
export { jsonInteger, jsonIntegerOrNull } from './status/json-integer';
export {
  evaluateReadiness,
  isRunning,
  type JsonInteger,
  type Readiness,
  type StatusJson,
  type StatusProvider,
  statusToJson,
} from './status/status-json';
export { bindSyncMetrics, type SyncEventSource } from './sync-metrics/bind-sync-metrics';
export {
  createSyncMetrics,
  DURATION_BUCKETS,
  MESSAGE_TYPES,
  type SyncMetrics,
} from './sync-metrics/sync-metrics';
export {
  type CreateValidatorApiOptions,
  createValidatorApi,
  type ResponseInfo,
  type ValidatorApiMetrics,
} from './validator-api/create-validator-api';
export { createHttpMetrics, type HttpMetrics } from './validator-api/http-metrics';
export * from './ws/index';
