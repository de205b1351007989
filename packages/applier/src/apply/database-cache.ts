import type { Database } from 'better-sqlite3';
import type { Stmt } from './statements';
import { readTableInfo, type TableInfo } from './table-info';

/**
 * What the applier keeps per database between applies: table metadata with its prepared
 * statements, the foreign-key graph, and statements of fixed text (savepoints, pragmas). All of
 * it but the fixed statements is dropped when schema_version changes.
 */
export class DatabaseCache {
  readonly db: Database;
  private schemaVersion = -1;
  private readonly tables = new Map<string, TableInfo | null>();
  private children: Map<string, Set<string>> | undefined;
  private deferrable: boolean | undefined;
  private readonly fixed = new Map<string, Stmt>();
  private readonly schemaVersionStmt: Stmt;
  private readonly foreignKeysStmt: Stmt;

  constructor(db: Database) {
    this.db = db;
    this.schemaVersionStmt = db.prepare('PRAGMA schema_version').pluck();
    this.foreignKeysStmt = db.prepare('PRAGMA foreign_keys').pluck();
  }

  /**
   * Drops what was learnt about the schema if it changed. Called inside the apply's
   * transaction: outside one, reading schema_version opens and closes a read transaction of its
   * own (~20% of a one-row apply), and the schema could change between the check and the apply.
   */
  refreshSchema(): void {
    const v = this.schemaVersionStmt.get() as number;
    if (v !== this.schemaVersion) {
      this.schemaVersion = v;
      this.tables.clear();
      this.children = undefined;
      this.deferrable = undefined;
    }
  }

  foreignKeysOn(): boolean {
    return this.foreignKeysStmt.get() === 1;
  }

  /** A statement of fixed text (SAVEPOINT, RELEASE, PRAGMA …), prepared once per database. */
  statement(sql: string): Stmt {
    let s = this.fixed.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.fixed.set(sql, s);
    }
    return s;
  }

  /** The main-schema table `name` (case-insensitive), or null when there is none. */
  table(name: string): TableInfo | null {
    const key = name.toLowerCase();
    let t = this.tables.get(key);
    if (t === undefined) {
      t = readTableInfo(this.db, name, this.foreignKeyChildren().has(key));
      this.tables.set(key, t);
    }
    return t;
  }

  /**
   * Per table in a foreign-key relationship (lower-cased name): the tables whose keys refer to
   * it (empty for a table that is only a child).
   */
  foreignKeyChildren(): Map<string, Set<string>> {
    if (this.children) return this.children;
    const map = new Map<string, Set<string>>();
    const rows = this.db
      .prepare(
        `SELECT m.name AS child, f."table" AS parent FROM main.sqlite_master AS m
         JOIN pragma_foreign_key_list(m.name, 'main') AS f WHERE m.type = 'table'`,
      )
      .all() as { child: string; parent: string }[];
    for (const r of rows) {
      const parent = r.parent.toLowerCase();
      let s = map.get(parent);
      if (!s) {
        s = new Set();
        map.set(parent, s);
      }
      s.add(r.child);
      const child = r.child.toLowerCase();
      if (!map.has(child)) map.set(child, new Set());
    }
    this.children = map;
    return map;
  }

  /** Some table's SQL mentions DEFERRABLE (then foreign keys are always deferred by pragma). */
  hasDeferrableKeys(): boolean {
    this.deferrable ??=
      this.db
        .prepare(
          `SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND sql LIKE '%DEFERRABLE%'`,
        )
        .pluck()
        .get() !== 0;
    return this.deferrable;
  }
}

const caches = new WeakMap<Database, DatabaseCache>();

/** The cache of `db` (made at its first apply; it goes with the Database object). */
export function databaseCache(db: Database): DatabaseCache {
  let c = caches.get(db);
  if (!c) {
    c = new DatabaseCache(db);
    caches.set(db, c);
  }
  return c;
}
