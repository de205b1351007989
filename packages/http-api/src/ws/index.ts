export {
  type AttachSubscriptionsOptions,
  attachSubscriptions,
  type RowChangesGate,
  type SubscriptionClientInfo,
  type SubscriptionEventSource,
  type SubscriptionLogger,
  type Subscriptions,
  type UpgradeServer,
} from './attach-subscriptions';
export { hex0x, jsonSqlValue } from './json-value';
export {
  type Channel,
  type ClientMessage,
  parseClientMessage,
  WS_CLOSE_CODES,
  WS_ERROR_CODES,
  type WsErrorCode,
} from './protocol';
export {
  type ColumnNamesLookup,
  type ReplicaSchemaSource,
  type RowChange,
  rowChanges,
  SchemaCache,
} from './row-changes';
export { type RowFrame, RowFrameCache, type RowFrames } from './row-frames';
export { createWsMetrics, WS_CHANNELS, WS_DROP_REASONS, type WsMetrics } from './ws-metrics';
