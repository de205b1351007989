export {
  CursorConflictError,
  NotInTransactionError,
  StateSchemaVersionError,
  StateValueError,
} from './errors';
export { migrateStateSchema, readSchemaVersion, STATE_SCHEMA_VERSION } from './migrations';
export type {
  Cursor,
  OpenStateStoreOptions,
  OutboxEnqueueParameters,
  OutboxEntry,
  SkippedGap,
} from './state-store';
export { isReservedName, openStateStore, StateStore } from './state-store';
