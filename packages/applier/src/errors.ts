import { SyndDBError } from '@synddb/protocol';
import type { ChangeOp, ConflictKind, SqlValue } from './types';

function formatValue(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Object.is(value, -0) ? '-0.0' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  const hex = Buffer.from(value.subarray(0, 32)).toString('hex');
  return `x'${hex}${value.length > 32 ? '…' : ''}'`;
}

/** Renders a primary key for error messages: `(1, "a")`. */
export function formatPrimaryKey(primaryKey: readonly SqlValue[]): string {
  return `(${primaryKey.map(formatValue).join(', ')})`;
}

/** A change could not be applied and the conflict policy said abort. */
export class ChangesetConflictError extends SyndDBError {
  override name = 'ChangesetConflictError';
  declare readonly code: 'CHANGESET_CONFLICT';
  override readonly kind = 'conflict';
  /** Which conflict SQLite's rules found (`kind` is the error kind every SyndDBError has). */
  readonly conflictKind: ConflictKind;
  readonly table: string;
  readonly op: ChangeOp;
  readonly primaryKey: SqlValue[];
  /** DATA conflicts: the non-key columns whose stored values differ from the changeset's old values. */
  readonly mismatchedColumns: string[] | undefined;

  constructor(
    kind: ConflictKind,
    table: string,
    op: ChangeOp,
    primaryKey: SqlValue[],
    options: { details?: string; cause?: unknown; mismatchedColumns?: string[] } = {},
  ) {
    const what =
      kind === 'FOREIGN_KEY'
        ? 'foreign key constraint violated after applying the changeset'
        : `${op} on table "${table}" with primary key ${formatPrimaryKey(primaryKey)}`;
    super('CHANGESET_CONFLICT', `changeset conflict ${kind}: ${what}`, options);
    this.conflictKind = kind;
    this.table = table;
    this.op = op;
    this.primaryKey = primaryKey;
    this.mismatchedColumns = options.mismatchedColumns;
  }
}

/** The target database does not have a table the changeset needs, or its columns differ. */
export class SchemaMismatchError extends SyndDBError {
  override name = 'SchemaMismatchError';
  declare readonly code: 'SCHEMA_MISMATCH';
  override readonly kind = 'schema';
  readonly table: string;
  /** Column count the changeset carries. */
  readonly expectedColumns: number;
  /** Column count of the table in the database, or undefined when the table is missing. */
  readonly actualColumns: number | undefined;

  constructor(
    table: string,
    expectedColumns: number,
    actualColumns: number | undefined,
    reason?: string,
  ) {
    const short =
      actualColumns === undefined
        ? `schema mismatch: table "${table}" does not exist in the target database`
        : `schema mismatch: table "${table}" ${reason ?? `has ${actualColumns} columns, the changeset has ${expectedColumns}`}`;
    super('SCHEMA_MISMATCH', short, {
      details: `table=${table} expectedColumns=${expectedColumns} actualColumns=${actualColumns ?? 'missing'}`,
    });
    this.table = table;
    this.expectedColumns = expectedColumns;
    this.actualColumns = actualColumns;
  }

  /** True when the table is missing entirely. */
  get missing(): boolean {
    return this.actualColumns === undefined;
  }
}

/** The changeset or patchset bytes are malformed. */
export class ChangesetFormatError extends SyndDBError {
  override name = 'ChangesetFormatError';
  declare readonly code: 'CHANGESET_FORMAT';
  override readonly kind = 'decode';
  /** Byte offset at which the problem was detected. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('CHANGESET_FORMAT', `malformed changeset at byte ${offset}: ${message}`, {
      details: `offset=${offset}`,
    });
    this.offset = offset;
  }
}

/** A snapshot image is not a usable SQLite database (bad header, quick_check failure, too large). */
export class SnapshotFormatError extends SyndDBError {
  override name = 'SnapshotFormatError';
  declare readonly code: 'SNAPSHOT_FORMAT' | 'SNAPSHOT_TOO_LARGE';
  override readonly kind = 'decode';

  constructor(
    message: string,
    options: {
      details?: string;
      cause?: unknown;
      code?: 'SNAPSHOT_FORMAT' | 'SNAPSHOT_TOO_LARGE';
    } = {},
  ) {
    super(options.code ?? 'SNAPSHOT_FORMAT', `invalid snapshot image: ${message}`, options);
  }
}

/** A snapshot image exceeds the configured maxBytes. */
export class SnapshotTooLargeError extends SnapshotFormatError {
  override name = 'SnapshotTooLargeError';
  declare readonly code: 'SNAPSHOT_TOO_LARGE';
  readonly bytes: number;
  readonly maxBytes: number;

  constructor(bytes: number, maxBytes: number) {
    super(`image of at least ${bytes} bytes exceeds the limit of ${maxBytes} bytes`, {
      details: `bytes>=${bytes} maxBytes=${maxBytes}`,
      code: 'SNAPSHOT_TOO_LARGE',
    });
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}
