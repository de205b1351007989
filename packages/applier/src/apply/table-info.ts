import type { Database } from 'better-sqlite3';
import type { Stmt } from './statements';

/** What the applier knows about a table of the target database. */
export interface TableInfo {
  name: string;
  /** Number of columns of the table (non-hidden). */
  tableColumns: number;
  columns: string[];
  pk: Uint8Array;
  /** 1 when INTEGER values must be bound as bigint (TEXT / BLOB affinity). */
  intBig: Uint8Array;
  /** No triggers, foreign keys or REPLACE conflict clauses: multi-row statements are exact. */
  simple: boolean;
  /** sqlite_stat1: no declared key; (tbl, idx) act as one, idx compared with IS (may be NULL). */
  stat1: boolean;
  /** Part of a foreign-key relationship (child or parent). */
  foreignKeys: boolean;
  /**
   * Per column, which primary-key values can be compared exactly in JS (for reordering changes):
   * 1 = numbers only (numeric affinity), 2 = strings only (TEXT affinity, BINARY collation),
   * 3 = numbers, strings, blobs (no affinity, BINARY collation), 4 = numbers and blobs (no
   * affinity, other collation), 0 = nothing.
   */
  keyClass: Uint8Array;
  /** Prepared statements for this table, by shape (see statements.ts). */
  stmts: Map<string | number, Stmt>;
}

/** SQLite's affinity rules (datatype3.html §3.1): does the column store integers as-is? */
function bindsIntegersAsBigint(declType: string): boolean {
  const t = declType.toUpperCase();
  if (t.includes('INT')) return false; // INTEGER
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return true; // TEXT
  if (t.includes('BLOB') || t === '') return true; // BLOB (none)
  return false; // REAL or NUMERIC: a double with an integral value converts back exactly
}

/**
 * Reads the metadata of the main-schema table `name` (case-insensitive), or null when there is
 * none. foreignKeys: the table is in a foreign-key relationship.
 */
export function readTableInfo(db: Database, name: string, foreignKeys: boolean): TableInfo | null {
  const master = db
    .prepare(
      `SELECT name, sql FROM main.sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
    )
    .get(name) as { name: string; sql: string | null } | undefined;
  if (!master) return null;
  const cols = db
    .prepare(`SELECT name, type, pk FROM pragma_table_info(?, 'main') ORDER BY cid`)
    .all(master.name) as { name: string; type: string; pk: number }[];
  const triggers = db
    .prepare(
      `SELECT count(*) FROM (SELECT tbl_name FROM main.sqlite_master WHERE type = 'trigger'
       UNION ALL SELECT tbl_name FROM temp.sqlite_master WHERE type = 'trigger') WHERE tbl_name = ? COLLATE NOCASE`,
    )
    .pluck()
    .get(master.name) as number;
  const indexes = db
    .prepare(`SELECT name, "unique", origin FROM pragma_index_list(?, 'main')`)
    .all(master.name) as { name: string; unique: number; origin: string }[];
  const secondaryUnique = indexes.some((i) => i.unique === 1 && i.origin !== 'pk');
  const pkIndex = indexes.find((i) => i.origin === 'pk');
  const collations = new Map<string, string>();
  if (pkIndex) {
    for (const c of db
      .prepare(`SELECT name, coll FROM pragma_index_xinfo(?, 'main') WHERE key = 1`)
      .all(pkIndex.name) as { name: string; coll: string }[]) {
      collations.set(c.name, c.coll);
    }
  }
  const keyClass = Uint8Array.from(
    cols.map((c) => {
      const binary = (collations.get(c.name) ?? 'BINARY').toUpperCase() === 'BINARY';
      const affinityIsText = /CHAR|CLOB|TEXT/i.test(c.type) && !/INT/i.test(c.type);
      const affinityIsNone =
        !/INT|CHAR|CLOB|TEXT|REAL|FLOA|DOUB/i.test(c.type) &&
        (c.type === '' || /BLOB/i.test(c.type));
      if (affinityIsText) return binary ? 2 : 0;
      if (affinityIsNone) return binary ? 3 : 4;
      return 1;
    }),
  );
  const info: TableInfo = {
    name: master.name,
    tableColumns: cols.length,
    columns: cols.map((c) => c.name),
    pk: Uint8Array.from(cols.map((c) => Math.min(c.pk, 255))),
    intBig: Uint8Array.from(cols.map((c) => (bindsIntegersAsBigint(c.type) ? 1 : 0))),
    simple:
      triggers === 0 &&
      !foreignKeys &&
      !secondaryUnique &&
      !master.name.toLowerCase().startsWith('sqlite_') &&
      !/\bREPLACE\b/i.test(master.sql ?? ''),
    foreignKeys,
    keyClass,
    stat1: false,
    stmts: new Map(),
  };
  if (name.toLowerCase() === 'sqlite_stat1' && info.tableColumns === 3) {
    // As sqlite3changeset_apply: sqlite_stat1 is keyed by (tbl, idx) although it declares no key.
    info.pk = Uint8Array.from([1, 2, 0]);
    info.stat1 = true;
    info.simple = false;
  }
  return info;
}
