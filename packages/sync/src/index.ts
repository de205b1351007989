export type { ApplyContext, WithdrawalHandler } from './apply-message';
export { classifyError, isTransient } from './classify';
export type { SyncEngine, SyncEngineOptions } from './engine';
export { createSyncEngine } from './engine';
export {
  BatchListingMismatchError,
  BatchUnavailableError,
  SequenceGapError,
  UnexpectedSequenceError,
  UntrustedSignerError,
} from './errors';
export type { PreparedBatch, PreparedMessage } from './prepare-batch';
export { prepareBatch } from './prepare-batch';
export type {
  AppliedMessage,
  HaltKind,
  HaltReason,
  SyncEvents,
  SyncProgress,
  SyncState,
  SyncStatus,
} from './types';
