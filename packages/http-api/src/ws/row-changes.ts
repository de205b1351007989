import { type ColumnValue, iterateChangeset } from '@synddb/applier';
import { jsonSqlValue } from './json-value';

/**
 * Something that can run `PRAGMA table_info` on the replica: a better-sqlite3 `Database`
 * (preferably a read-only connection) fits.
 */
export interface ReplicaSchemaSource {
  prepare(sql: string): { all(...params: unknown[]): unknown[] };
}

/** Column names of a table, in column order; undefined when unknown. */
export type ColumnNamesLookup = (table: string) => readonly string[] | undefined;

const MAX_CACHED_TABLES = 10_000;

/**
 * Column names per table, read from the replica with `PRAGMA table_info` and cached until
 * `invalidate()` (call it whenever the schema may have changed: snapshots).
 */
export class SchemaCache {
  readonly #lookup: ColumnNamesLookup;
  readonly #cache = new Map<string, readonly string[] | null>();

  constructor(source: ReplicaSchemaSource | ColumnNamesLookup | null | undefined) {
    if (typeof source === 'function') this.#lookup = source;
    else if (source === null || source === undefined) this.#lookup = () => undefined;
    else {
      const replica = source;
      this.#lookup = (table) => {
        const rows = replica
          .prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid')
          .all(table) as { name: string }[];
        return rows.length === 0 ? undefined : rows.map((r) => r.name);
      };
    }
  }

  /**
   * The names of `table`'s columns when the replica has exactly `columnCount` of them, else
   * positional names `"0"`, `"1"`, ….
   */
  columns(table: string, columnCount: number): readonly string[] {
    let names = this.#cache.get(table);
    if (names === undefined) {
      let found: readonly string[] | undefined;
      try {
        found = this.#lookup(table);
      } catch {
        found = undefined; // connection closed or busy: fall back, don't cache
      }
      if (found !== undefined) {
        if (this.#cache.size >= MAX_CACHED_TABLES) this.#cache.clear();
        this.#cache.set(table, found);
      }
      names = found ?? null;
    }
    if (names !== null && names.length === columnCount) return names;
    return Array.from({ length: columnCount }, (_, i) => String(i));
  }

  invalidate(): void {
    this.#cache.clear();
  }
}

/** One row change of an applied changeset, ready to serialize. */
export interface RowChange {
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  /** Primary-key values in primary-key order (JSON-ready). */
  pk: unknown[];
  /** Recorded old values by column name (UPDATE: primary key + changed columns; DELETE: all). */
  old: Record<string, unknown> | undefined;
  /** Recorded new values by column name (INSERT: all; UPDATE: changed columns). */
  new: Record<string, unknown> | undefined;
}

function record(
  values: ColumnValue[] | undefined,
  names: readonly string[],
): Record<string, unknown> | undefined {
  if (values === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== undefined) out[names[i]!] = jsonSqlValue(v);
  }
  return out;
}

/**
 * The row changes of one SQLite changeset (or patchset), with column names from `schema`. Throws
 * `ChangesetFormatError` on a malformed changeset (after yielding the changes before it).
 */
export function* rowChanges(changeset: Uint8Array, schema: SchemaCache): Generator<RowChange> {
  let lastTable: unknown;
  let names: readonly string[] = [];
  let pkOrder: number[] = [];
  for (const { table, change } of iterateChangeset(changeset)) {
    if (table !== lastTable) {
      lastTable = table;
      names = schema.columns(table.name, table.columnCount);
      pkOrder = table.primaryKey
        .map((position, column) => [position, column] as const)
        .filter(([position]) => position > 0)
        .sort((a, b) => a[0] - b[0])
        .map(([, column]) => column);
    }
    const keySource =
      change.op === 'INSERT' ? change.newValues : (change.oldValues ?? change.newValues);
    yield {
      table: table.name,
      op: change.op,
      pk: pkOrder.map((column) => jsonSqlValue(keySource?.[column])),
      old: record(change.oldValues, names),
      new: record(change.newValues, names),
    };
  }
}
