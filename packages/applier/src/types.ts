/** A value as stored by SQLite: INTEGER (number when safe, bigint beyond 2^53), REAL, TEXT, BLOB, NULL. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** A column value in a change record; `undefined` means "not recorded" (unchanged UPDATE columns). */
export type ColumnValue = SqlValue | undefined;

export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE';

export type ConflictKind = 'DATA' | 'NOTFOUND' | 'CONFLICT' | 'CONSTRAINT' | 'FOREIGN_KEY';

export type ConflictAction = 'omit' | 'replace' | 'abort';

/** Wire type codes of change-record values. */
export const ValueType = {
  Undefined: 0,
  Integer: 1,
  Real: 2,
  Text: 3,
  Blob: 4,
  Null: 5,
} as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

/** One row change. */
export interface ChangesetChange {
  op: ChangeOp;
  indirect: boolean;
  /**
   * old.* record: DELETE (all columns; in a patchset only the primary key columns are set) and
   * UPDATE in a changeset (primary key + old values of changed columns, others undefined).
   * Undefined for INSERT and for patchset UPDATE.
   */
  oldValues: ColumnValue[] | undefined;
  /**
   * new.* record: INSERT (all columns) and UPDATE (changed columns, others undefined; a patchset
   * UPDATE also carries the primary key here). Undefined for DELETE.
   */
  newValues: ColumnValue[] | undefined;
  /** Wire type code per old value (keeps INTEGER vs REAL apart for byte-identical re-encoding). */
  oldTypes?: Uint8Array | undefined;
  /** Wire type code per new value. */
  newTypes?: Uint8Array | undefined;
}

/** One table group: the header plus the changes that follow it. */
export interface ChangesetTable {
  name: string;
  columnCount: number;
  /** The header's primary-key flag byte per column: 0 = not in the PK, else 1-based PK position. */
  primaryKey: number[];
  changes: ChangesetChange[];
}

export interface Changeset {
  patchset: boolean;
  tables: ChangesetTable[];
}

export interface DecodeOptions {
  /** Expect a patchset ('P' headers). Default: taken from the first table header. */
  patchset?: boolean;
}

/** One change as yielded by iterateChangeset, with its table. */
export interface ChangesetEntry {
  table: ChangesetTable;
  change: ChangesetChange;
}

/** Everything a conflict handler learns about a conflict. */
export interface ConflictInfo {
  kind: ConflictKind;
  /** Table name ('' for FOREIGN_KEY). */
  table: string;
  /** Operation of the change ('INSERT' for FOREIGN_KEY, which concerns no single change). */
  op: ChangeOp;
  /** Primary key values of the change in PK order ([] for FOREIGN_KEY). */
  primaryKey: SqlValue[];
  /** old.* values of the change (DELETE/UPDATE). */
  oldValues: ColumnValue[] | undefined;
  /** new.* values of the change (INSERT/UPDATE). */
  newValues: ColumnValue[] | undefined;
  /** The row currently in the database with the same primary key (DATA and CONFLICT only). */
  conflictingRow: SqlValue[] | undefined;
  /** DATA only: non-key columns whose stored value differs from the change's old value. */
  mismatchedColumns?: string[];
  /** Number of outstanding foreign-key violations (FOREIGN_KEY only). */
  foreignKeyViolations?: number;
  /** Whether the change is flagged indirect. */
  indirect: boolean;
}

export interface ApplyOptions {
  /**
   * 'own' (default): BEGIN IMMEDIATE / COMMIT around the apply, rollback on error.
   * 'caller': the caller holds a transaction (db.inTransaction must be true, else TypeError);
   * on error only the applier's own SAVEPOINT is rolled back, then the error is rethrown.
   */
  transaction?: 'own' | 'caller' | undefined;
  /** Conflict handler. Default: CONFLICT on INSERT → omit, everything else → abort. */
  onConflict?: ((info: ConflictInfo) => ConflictAction) | undefined;
  /** Return false to skip every change of a table (like xFilter). */
  filter?: ((table: string) => boolean) | undefined;
  /** Default true: missing tables or differing column counts throw SchemaMismatchError. */
  checkSchema?: boolean | undefined;
  /**
   * Counters of the execution paths the apply takes (for tests and profiling): the apply adds
   * its counts to this object's fields, so one object can sum several applies. Without it,
   * nothing is counted.
   */
  stats?: ApplyStats | undefined;
}

/** What ApplyOptions.stats counts. Start every field at 0. */
export interface ApplyStats {
  /** Chunks applied on the sorted path: grouped by operation, in key order, in one savepoint. */
  sortedChunks: number;
  /** Of those, chunks rolled back and replayed row by row (a statement's row count was off). */
  sortedChunkFallbacks: number;
  /** Multi-row statements of the run path (consecutive changes of one operation). */
  runBatches: number;
  /** Of those, statements undone and replayed row by row. */
  runBatchFallbacks: number;
  /** Changes applied one statement each (replays, retries and what no multi-row path takes). */
  rowByRow: number;
  /** UPDATEs decoded straight into a multi-row statement's parameters (readUpdateInto). */
  updatesIntoSlots: number;
  /** Optimistic runs with immediate foreign keys redone with deferred keys. */
  foreignKeyRestarts: number;
  /** PRAGMA defer_foreign_keys writes (each expires every prepared statement of the connection). */
  deferPragmaWrites: number;
}

export interface ApplyResult {
  inserted: number;
  updated: number;
  deleted: number;
  omitted: number;
  replaced: number;
}

export interface ChangesetTableSummary {
  name: string;
  columnCount: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** Primary key values (PK order) of every change, in changeset order. */
  primaryKeys: SqlValue[][];
}

export interface ChangesetSummary {
  patchset: boolean;
  tables: ChangesetTableSummary[];
  inserts: number;
  updates: number;
  deletes: number;
  changes: number;
}
