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

const MAX_TABLES = 10_000;

/** Column names per table as of one schema version (the replica's schema between snapshots). */
export interface SchemaView {
  /**
   * The names of `table`'s columns when known and exactly `columnCount` of them, else positional
   * names `"0"`, `"1"`, ….
   */
  columns(table: string, columnCount: number): readonly string[];
}

const positional = (count: number) => Array.from({ length: count }, (_, i) => String(i));

function viewOf(lookup: ColumnNamesLookup): SchemaView {
  const cache = new Map<string, readonly string[] | null>();
  return {
    columns(table, columnCount) {
      let names = cache.get(table);
      if (names === undefined) {
        try {
          names = lookup(table) ?? null;
        } catch {
          names = null; // connection closed or busy
        }
        if (cache.size < MAX_TABLES) cache.set(table, names);
      }
      return names !== null && names.length === columnCount ? names : positional(columnCount);
    },
  };
}

/**
 * Column names per table, from the replica. The schema only changes with snapshots: call
 * `invalidate()` when one is applied. `current()` is the view of the schema as it is now; with a
 * database source the whole schema is read at once (one query), so a view stays right for
 * changesets applied before a later snapshot even when they are decoded after it. A lookup
 * function is asked lazily, once per table and view.
 */
export class SchemaCache {
  readonly #source: ReplicaSchemaSource | ColumnNamesLookup | null | undefined;
  #current: SchemaView | undefined;

  constructor(source: ReplicaSchemaSource | ColumnNamesLookup | null | undefined) {
    this.#source = source;
  }

  current(): SchemaView {
    this.#current ??= this.#load();
    return this.#current;
  }

  /** Shorthand for `current().columns(table, columnCount)`. */
  columns(table: string, columnCount: number): readonly string[] {
    return this.current().columns(table, columnCount);
  }

  invalidate(): void {
    this.#current = undefined;
  }

  #load(): SchemaView {
    const source = this.#source;
    if (typeof source === 'function') return viewOf(source);
    if (source === null || source === undefined) return viewOf(() => undefined);
    const tables = new Map<string, string[]>();
    try {
      const rows = source
        .prepare(
          "SELECT m.name AS t, p.name AS c FROM sqlite_schema AS m, pragma_table_info(m.name) AS p WHERE m.type = 'table' ORDER BY m.name, p.cid",
        )
        .all() as { t: string; c: string }[];
      for (const { t, c } of rows) {
        let names = tables.get(t);
        if (names === undefined) {
          if (tables.size >= MAX_TABLES) break;
          names = [];
          tables.set(t, names);
        }
        names.push(c);
      }
    } catch {
      // unreadable now (closed, busy): this view falls back to positional names
    }
    return viewOf((table) => tables.get(table));
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
 * The row changes of one SQLite changeset (or patchset), with column names from `schema` (a
 * `SchemaView`, or a `SchemaCache` for its current view). Throws
 * `ChangesetFormatError` on a malformed changeset (after yielding the changes before it).
 */
export function* rowChanges(changeset: Uint8Array, schema: SchemaView): Generator<RowChange> {
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
