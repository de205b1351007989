export type { ApplyContext, WithdrawalHandler } from './apply-message';
export { classifyError, HALT_RULES, type HaltRule, isTransient } from './classify';
export type { SyncEngine, SyncEngineOptions } from './engine';
export { createSyncEngine } from './engine';
export {
  BatchListingMismatchError,
  BatchUnavailableError,
  InsufficientDiskSpaceError,
  SequenceGapError,
  UnexpectedSequenceError,
  UntrustedSignerError,
} from './errors';
export type {
  DownloadedBatch,
  PrepareBlobOptions,
  PreparedBatch,
  PreparedMessage,
} from './prepare-batch';
export { downloadBatch, fetchBatchBlob, prepareBatch, prepareBlob } from './prepare-batch';
export {
  type CreatePreparePoolOptions,
  createPreparePool,
  type PreparePool,
  PreparePoolError,
} from './prepare-pool';
export { RemoteError, type SerializedError } from './remote-error';
export { type RetryDelayParameters, retryDelay } from './retry-delay';
export { prepareSnapshotBatch, type SnapshotBatchLimits } from './snapshot-batch';
export type { SnapshotSpoolPlace, SpooledPayload } from './snapshot-spool';
export {
  createSqlRule,
  RuleConfigError,
  type SqlRule,
  type SqlRuleDefinition,
} from './sql-rule';
export { type StateRootHandler, StateRootTracker } from './state-root-tracker';
export type {
  AppliedMessage,
  HaltKind,
  HaltReason,
  SyncEvents,
  SyncProgress,
  SyncRetry,
  SyncState,
  SyncStatus,
} from './types';
export type {
  UpdateResolver,
  UpdateResolverOptions,
  UpdateResolverStats,
} from './update-resolver';
export {
  checkRules,
  type RuleContext,
  type RuleOutcome,
  RuleViolationError,
  ruleFails,
  rulePasses,
  type ValidationRule,
} from './validation-rule';
