export { applyChangeset, applyPatchset } from './apply';
export {
  type ChangesetEntry,
  concatChangesets,
  type DecodeOptions,
  decodeChangeset,
  encodeChangeset,
  invertChangeset,
  iterateChangeset,
  summarizeChangeset,
} from './codec';
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
} from './snapshot';
export type {
  ApplyOptions,
  ApplyResult,
  ChangeOp,
  Changeset,
  ChangesetChange,
  ChangesetSummary,
  ChangesetTable,
  ChangesetTableSummary,
  ColumnValue,
  ConflictAction,
  ConflictInfo,
  ConflictKind,
  SqlValue,
} from './types';
export { ValueType } from './types';
