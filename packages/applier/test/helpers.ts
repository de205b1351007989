import { join } from 'node:path';
import { constants, DatabaseSync } from 'node:sqlite';
import { tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import type { ApplyStats, ConflictAction, ConflictKind } from '../src/index';

export function openNative(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { readBigInts: true });
  db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;');
  return db;
}

/** Opens a replica with better-sqlite3 (or another driver with its API), WAL, synchronous=NORMAL. */
export function openOurs(path: string, Driver: typeof Database = Database): Database.Database {
  const db = new Driver(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** The apply tests' default schema: a rowid table and a table keyed by TEXT. */
export const APPLY_SCHEMA =
  'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w); CREATE TABLE u(a TEXT PRIMARY KEY, b);';

export interface TestDatabases {
  /** A new database path in the file's temp directory: `{dir}/{name}{n}.db`. */
  file(name: string): string;
  /** A node:sqlite database to record changesets on, with `schema` (default APPLY_SCHEMA). */
  source(schema?: string): DatabaseSync;
  /** A better-sqlite3 replica to apply to, with `schema` (default APPLY_SCHEMA). */
  ours(schema?: string): Database.Database;
}

/** Databases for one test file, each in a new file of a temp directory removed after the file. */
export function testDatabases(prefix: string): TestDatabases {
  const dir = tempDir(prefix, { scope: 'file' });
  let n = 0;
  const file = (name: string) => join(dir, `${name}${n++}.db`);
  return {
    file,
    source(schema = APPLY_SCHEMA) {
      const db = openNative(file('src'));
      db.exec(schema);
      return db;
    },
    ours(schema = APPLY_SCHEMA) {
      const db = openOurs(file('ours'));
      db.exec(schema);
      return db;
    },
  };
}

/** Zeroed counters for ApplyOptions.stats. */
export function newApplyStats(): ApplyStats {
  return {
    sortedChunks: 0,
    sortedChunkFallbacks: 0,
    runBatches: 0,
    runBatchFallbacks: 0,
    rowByRow: 0,
    updatesIntoSlots: 0,
    foreignKeyRestarts: 0,
    deferPragmaWrites: 0,
  };
}

/** Records the changeset of `ops` run against the node:sqlite database `db`. */
export function record(db: DatabaseSync, ops: (db: DatabaseSync) => void): Uint8Array {
  const session = db.createSession();
  ops(db);
  const cs = session.changeset();
  session.close();
  return cs;
}

export function recordPatchset(db: DatabaseSync, ops: (db: DatabaseSync) => void): Uint8Array {
  const session = db.createSession();
  ops(db);
  const cs = session.patchset();
  session.close();
  return cs;
}

const KIND_BY_CODE: Record<number, ConflictKind> = {
  [constants.SQLITE_CHANGESET_DATA]: 'DATA',
  [constants.SQLITE_CHANGESET_NOTFOUND]: 'NOTFOUND',
  [constants.SQLITE_CHANGESET_CONFLICT]: 'CONFLICT',
  4: 'CONSTRAINT', // SQLITE_CHANGESET_CONSTRAINT (missing from @types/node)
  [constants.SQLITE_CHANGESET_FOREIGN_KEY]: 'FOREIGN_KEY',
};
const ACTION_CODE: Record<ConflictAction, number> = {
  omit: constants.SQLITE_CHANGESET_OMIT,
  replace: constants.SQLITE_CHANGESET_REPLACE,
  abort: constants.SQLITE_CHANGESET_ABORT,
};

/** Applies with node:sqlite's native applyChangeset using a kind-based policy; logs conflict kinds. */
export function applyNative(
  db: DatabaseSync,
  cs: Uint8Array,
  policy: (kind: ConflictKind) => ConflictAction,
  log: ConflictKind[] = [],
): boolean {
  return db.applyChangeset(cs, {
    onConflict: (code: number) => {
      const kind = KIND_BY_CODE[code]!;
      log.push(kind);
      return ACTION_CODE[policy(kind)];
    },
  });
}

/** A stable text form of one value with its storage class. */
export function norm(v: unknown): string {
  if (v === null) return 'N';
  if (typeof v === 'bigint') return `I${v}`;
  if (typeof v === 'number') return `R${Object.is(v, -0) ? '-0' : String(v)}`;
  if (typeof v === 'string') return `T${JSON.stringify(v)}`;
  if (v instanceof Uint8Array) return `B${Buffer.from(v).toString('hex')}`;
  throw new TypeError(`unexpected ${typeof v}`);
}

export function dumpOurs(db: Database.Database, tables: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of tables) {
    const rows = db
      .prepare(`SELECT * FROM "${t}"`)
      .raw(true)
      .safeIntegers(true)
      .all() as unknown[][];
    out[t] = rows.map((r) => r.map(norm).join('|')).sort();
  }
  return out;
}

export function dumpNative(db: DatabaseSync, tables: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of tables) {
    const stmt = db.prepare(`SELECT * FROM "${t}"`);
    stmt.setReadBigInts(true);
    const rows = stmt.all() as Record<string, unknown>[];
    out[t] = rows.map((r) => Object.values(r).map(norm).join('|')).sort();
  }
  return out;
}
