export { applyChangeset } from './apply/apply-changeset';
export { applyPatchset } from './apply/apply-patchset';
export { concatChangesets } from './codec/concat-changesets';
export { decodeChangeset } from './codec/decode-changeset';
export { encodeChangeset } from './codec/encode-changeset';
export { invertChangeset } from './codec/invert-changeset';
export { iterateChangeset } from './codec/iterate-changeset';
export { summarizeChangeset } from './codec/summarize-changeset';
export {
  ChangesetConflictError,
  ChangesetFormatError,
  SchemaMismatchError,
  SnapshotFormatError,
  SnapshotTooLargeError,
} from './errors';
export {
  type RestoreSnapshotOptions,
  type RestoreSnapshotResult,
  restoreSnapshot,
  type SnapshotImage,
} from './snapshot/restore-snapshot';
export {
  type ChangesetStateDelta,
  type ChangesetStateDeltaOptions,
  changesetStateDelta,
  type PendingRowUpdate,
  scriptChangesetStateDelta,
  type UndecodedUpdates,
} from './state-root/changeset-state-delta';
export {
  type GroupUpdateJob,
  GroupUpdateResolver,
  UnresolvableUpdateError,
} from './state-root/group-update-resolver';
export type { StateRootKernelName } from './state-root/lanes';
export { hashElement, LTHASH_BYTES, LTHASH_LANES, LtHash16 } from './state-root/lthash';
export { isStateTable, RowElementWriter } from './state-root/row-element';
export {
  type StateRootKernel,
  selectStateRootKernel,
  stateRootKernel,
} from './state-root/state-root-kernel';
export {
  addStateHashChunk,
  applyStateDelta,
  openStateHashFile,
  type StateHashChunk,
  type StateHashElementBatches,
  type StateHashFile,
  stateHashChunks,
  stateHashOfDatabase,
  stateRootOfDatabase,
  type TableReader,
} from './state-root/state-root-of-database';
export { leaveCpu, threadCpu } from './state-root/thread-placement';
export type {
  ApplyOptions,
  ApplyResult,
  ApplyStats,
  ChangeOp,
  Changeset,
  ChangesetChange,
  ChangesetEntry,
  ChangesetSummary,
  ChangesetTable,
  ChangesetTableSummary,
  ColumnValue,
  ConflictAction,
  ConflictInfo,
  ConflictKind,
  DecodeOptions,
  SqlValue,
} from './types';
export { ValueType } from './types';
