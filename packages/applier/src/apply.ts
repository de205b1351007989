import type { Database, RunResult, Statement } from 'better-sqlite3';
import { ChangesetConflictError, SchemaMismatchError } from './errors';
import {
  ASCII_TEXT_MAX,
  asciiText,
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  Reader,
  readTableHeader,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from './reader';
import type {
  ApplyOptions,
  ApplyResult,
  ChangeOp,
  ColumnValue,
  ConflictAction,
  ConflictInfo,
  ConflictKind,
  SqlValue,
} from './types';

// biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 statements take positional arrays
type Stmt = Statement<any[], any>;

/** Rows per multi-row statement (capped by SQLite's 32766 bound parameters). */
const INSERT_BATCH_ROWS = 200;
const UPDATE_BATCH_ROWS = 100;
const DELETE_BATCH_ROWS = 100;
const SMALL_BATCH_ROWS = 16;
/** Changes per partitioned chunk (bounds the decoded values held at once). */
const CHUNK_CHANGES = 262_144;
/** Below this, a chunk is not worth a savepoint; the run-based path handles it. */
const PARTITION_MIN_CHANGES = 8;
const MAX_PARAMS = 32000;
/**
 * better-sqlite3 binds spread arguments faster than one array argument (it reads an array
 * element by element through the V8 API): ~12% of a 200-row INSERT's run time. Very long
 * parameter lists still go as an array to stay far from the call-stack limit.
 */
const SPREAD_MAX = 4096;

/**
 * What multi-row statements bind for NULL. better-sqlite3 13 (Node-API) tests a value's type one
 * Node-API call at a time (number, bigint, string, buffer, then null), so a null costs about
 * twice a number to bind. SQLite turns a bound NaN into NULL
 * (sqlite3VdbeMemSetDouble), so binding NaN is binding NULL. Only values that are bound and
 * never shown use it: the row-by-row path, whose values reach conflict handlers, keeps null.
 */
const BOUND_NULL = Number.NaN;

function runWith(s: Stmt, params: ColumnValue[]): RunResult {
  return params.length <= SPREAD_MAX ? s.run(...params) : s.run(params);
}

/** Per-chunk arrays of the partitioned path, reused between chunks and applies. */
class ChunkScratch {
  cap = 1024;
  starts = new Float64Array(this.cap);
  keys = new Float64Array(this.cap);
  masks = new Float64Array(this.cap);
  ops = new Uint8Array(this.cap);
  gid = new Int32Array(this.cap);
  grouped = new Int32Array(this.cap);
  /** UPDATE masks of tables with more than 26 columns (one character per column). */
  wide: string[] = [];

  grow(): void {
    const cap = Math.min(this.cap * 2, CHUNK_CHANGES);
    const more = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.starts = more(this.starts, (c) => new Float64Array(c));
    this.keys = more(this.keys, (c) => new Float64Array(c));
    this.masks = more(this.masks, (c) => new Float64Array(c));
    this.ops = more(this.ops, (c) => new Uint8Array(c));
    this.gid = new Int32Array(cap);
    this.grouped = new Int32Array(cap);
    this.cap = cap;
  }
}

/**
 * One scratch set is kept; a nested apply (from a conflict handler) gets its own. A set grown
 * past 65,536 changes (up to ~8.7 MB) is kept only through a WeakRef: the next large chunk reuses
 * it unless a full GC reclaimed it, so an occasional huge changeset does not pin memory, and a
 * stream of them does not allocate, zero and regrow ~17 MB of typed arrays each.
 */
let spareScratch: ChunkScratch | undefined;
let largeScratch: WeakRef<ChunkScratch> | undefined;
function takeScratch(): ChunkScratch {
  const large = largeScratch?.deref();
  if (large) {
    largeScratch = undefined;
    return large;
  }
  const sc = spareScratch ?? new ChunkScratch();
  spareScratch = undefined;
  return sc;
}
function releaseScratch(sc: ChunkScratch): void {
  sc.wide.length = 0;
  if (sc.cap <= 65_536) spareScratch = sc;
  else largeScratch = new WeakRef(sc);
}

function maskString(mask: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(48 + (Math.floor(mask / 4 ** i) % 4));
  return s;
}

/** Internal counters of which execution path ran (for tests and profiling; not exported). */
export const pathStats = {
  partitionChunks: 0,
  partitionFallbacks: 0,
  runBatches: 0,
  runFallbacks: 0,
  rows: 0,
  /** Optimistic immediate-foreign-key runs redone with deferred foreign keys. */
  fkRestarts: 0,
  /** PRAGMA defer_foreign_keys writes (each expires every prepared statement of the connection). */
  fkPragmaWrites: 0,
  /** UPDATEs of a run decoded straight into the batch parameters (readUpdateInto). */
  updateFastRows: 0,
};

// ---------------------------------------------------------------------------------------------
// Per-database cache: table metadata and prepared statements, invalidated on schema change.

interface TableInfo {
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
  stmts: Map<string | number, Stmt>;
}

interface DbCache {
  schemaVersion: number;
  tables: Map<string, TableInfo | null>;
  fkChildren: Map<string, Set<string>> | undefined;
  /** Some table's SQL mentions DEFERRABLE (then foreign keys are always deferred by pragma). */
  deferrable: boolean | undefined;
  schemaVersionStmt: Stmt;
  foreignKeysStmt: Stmt;
  misc: Map<string, Stmt>;
}

const caches = new WeakMap<Database, DbCache>();

function getCache(db: Database): DbCache {
  let c = caches.get(db);
  if (!c) {
    c = {
      schemaVersion: -1,
      tables: new Map(),
      fkChildren: undefined,
      deferrable: undefined,
      schemaVersionStmt: db.prepare('PRAGMA schema_version').pluck(),
      foreignKeysStmt: db.prepare('PRAGMA foreign_keys').pluck(),
      misc: new Map(),
    };
    caches.set(db, c);
  }
  return c;
}

/**
 * Drops what was learnt about the schema if it changed. Called inside the apply's transaction:
 * outside one, reading schema_version opens and closes a read transaction of its own (~20% of a
 * one-row apply), and the schema could change between the check and the apply.
 */
function refreshSchema(c: DbCache): void {
  const v = c.schemaVersionStmt.get() as number;
  if (v !== c.schemaVersion) {
    c.schemaVersion = v;
    c.tables.clear();
    c.fkChildren = undefined;
    c.deferrable = undefined;
  }
}

function miscStmt(db: Database, cache: DbCache, sql: string): Stmt {
  let s = cache.misc.get(sql);
  if (!s) {
    s = db.prepare(sql);
    cache.misc.set(sql, s);
  }
  return s;
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQLite's affinity rules (datatype3.html §3.1): does the column store integers as-is? */
function bindsIntegersAsBigint(declType: string): boolean {
  const t = declType.toUpperCase();
  if (t.includes('INT')) return false; // INTEGER
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return true; // TEXT
  if (t.includes('BLOB') || t === '') return true; // BLOB (none)
  return false; // REAL or NUMERIC: a double with an integral value converts back exactly
}

function fkChildren(db: Database, cache: DbCache): Map<string, Set<string>> {
  if (cache.fkChildren) return cache.fkChildren;
  const map = new Map<string, Set<string>>();
  const rows = db
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
  cache.fkChildren = map;
  return map;
}

function hasDeferrable(db: Database, cache: DbCache): boolean {
  cache.deferrable ??=
    db
      .prepare(
        `SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND sql LIKE '%DEFERRABLE%'`,
      )
      .pluck()
      .get() !== 0;
  return cache.deferrable;
}

function loadTable(db: Database, cache: DbCache, name: string): TableInfo | null {
  const key = name.toLowerCase();
  const cached = cache.tables.get(key);
  if (cached !== undefined) return cached;
  const master = db
    .prepare(
      `SELECT name, sql FROM main.sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
    )
    .get(name) as { name: string; sql: string | null } | undefined;
  if (!master) {
    cache.tables.set(key, null);
    return null;
  }
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
  const fk = fkChildren(db, cache).has(key);
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
      !fk &&
      !secondaryUnique &&
      !master.name.toLowerCase().startsWith('sqlite_') &&
      !/\bREPLACE\b/i.test(master.sql ?? ''),
    foreignKeys: fk,
    keyClass,
    stat1: false,
    stmts: new Map(),
  };
  if (key === 'sqlite_stat1' && info.tableColumns === 3) {
    // As sqlite3changeset_apply: sqlite_stat1 is keyed by (tbl, idx) although it declares no key.
    info.pk = Uint8Array.from([1, 2, 0]);
    info.stat1 = true;
    info.simple = false;
  }
  cache.tables.set(key, info);
  return info;
}

// ---------------------------------------------------------------------------------------------
// The apply engine

const Outcome = { Done: 0, Retry: 1, Replace: 2 } as const;

/**
 * How foreign keys are handled (foreign_keys on and the schema has some):
 * - Already: defer_foreign_keys was on before the apply; nothing to switch.
 * - Immediate: optimistic. Writing any pragma expires every prepared statement of the
 *   connection (OP_Expire), so the apply first runs with immediate foreign keys; at the first
 *   table with foreign keys it opens a savepoint, and at the first conflict of any kind (an
 *   immediate foreign-key failure is one) it rolls back to it and redoes the rest with
 *   defer_foreign_keys on. A run without conflicts and immediate failures executes the same
 *   statements with the same effects as a deferred run, and its deferred-violation counter
 *   would end at zero (only immediate keys: no DEFERRABLE in the schema).
 * - Lazy: defer_foreign_keys is switched on when the first table with foreign keys is reached.
 */
const Fk = { None: 0, Already: 1, Immediate: 2, Lazy: 3 } as const;
type Fk = (typeof Fk)[keyof typeof Fk];

/** Thrown inside an optimistic (immediate foreign keys) run to restart it deferred. */
const RESTART_DEFERRED = new Error('restart with deferred foreign keys');
type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Decoded change, reused between rows. */
interface Change {
  op: number;
  indirect: boolean;
  start: number;
  oldVals: ColumnValue[];
  newVals: ColumnValue[];
}

function isConstraintError(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code.startsWith('SQLITE_CONSTRAINT')
  );
}

function sameForDiagnostics(a: SqlValue, b: SqlValue): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return Buffer.from(a).equals(Buffer.from(b));
  if (
    (typeof a === 'number' || typeof a === 'bigint') &&
    (typeof b === 'number' || typeof b === 'bigint')
  ) {
    return Number(a) === Number(b);
  }
  return a === b;
}

function defaultPolicy(info: ConflictInfo): ConflictAction {
  return info.kind === 'CONFLICT' ? 'omit' : 'abort';
}

function opName(op: number): ChangeOp {
  return op === OP_INSERT ? 'INSERT' : op === OP_UPDATE ? 'UPDATE' : 'DELETE';
}

function toSqlValue(v: unknown): SqlValue {
  if (typeof v === 'bigint' && v >= -9007199254740991n && v <= 9007199254740991n) return Number(v);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  return v as SqlValue;
}

class Engine {
  readonly r: Reader;
  readonly db: Database;
  readonly cache: DbCache;
  readonly patchset: boolean;
  readonly onConflict: (info: ConflictInfo) => ConflictAction;
  readonly filter: ((table: string) => boolean) | undefined;
  readonly checkSchema: boolean;
  readonly result: ApplyResult = { inserted: 0, updated: 0, deleted: 0, omitted: 0, replaced: 0 };
  readonly touched = new Set<TableInfo>();

  // foreign keys (see Fk)
  fkMode: Fk = Fk.None;
  fkStarted = false;
  immediateFk = false;
  deferSet = false;
  restartPos = 0;
  restartResult: ApplyResult | undefined;

  // current table
  t: TableInfo | null = null;
  nCol = 0;
  hdrPk: Uint8Array = new Uint8Array(0);
  changesetTable = '';
  deferConstraints = true;
  deferred: number[] = [];
  partitionOk = true;
  ch: Change = { op: 0, indirect: false, start: 0, oldVals: [], newVals: [] };

  constructor(
    db: Database,
    cache: DbCache,
    buf: Uint8Array,
    patchset: boolean,
    options: ApplyOptions,
  ) {
    this.db = db;
    this.cache = cache;
    this.r = new Reader(buf);
    this.patchset = patchset;
    this.onConflict = options.onConflict ?? defaultPolicy;
    this.filter = options.filter;
    this.checkSchema = options.checkSchema ?? true;
  }

  run(): void {
    const r = this.r;
    const buf = r.buf;
    while (r.pos < r.end) {
      const b = buf[r.pos]!;
      if (b === TABLE_CHANGESET || b === TABLE_PATCHSET) {
        this.finishTable();
        this.startTable();
        continue;
      }
      if (this.nCol === 0) r.fail(`expected a table header, got 0x${b.toString(16)}`);
      if (this.t === null) {
        this.readChange(this.ch, false);
        continue;
      }
      if (this.t.simple && this.partitionOk && !this.patchset) {
        // Long runs of UPDATEs or DELETEs gain nothing from reordering (sorting mostly helps
        // B-tree appends); the run path handles them with one decoding pass.
        if ((b === OP_UPDATE || b === OP_DELETE) && this.uniformPrefix(b, 64))
          this.partitionOk = false;
        else if (this.partitionChunk()) continue;
        else this.partitionOk = false;
      }
      if (this.t.simple) {
        if (b === OP_INSERT) {
          this.insertRun();
          continue;
        }
        if (b === OP_UPDATE && !this.patchset) {
          if (this.updateRun()) continue;
        } else if (b === OP_DELETE && !this.patchset) {
          this.deleteRun();
          continue;
        }
      }
      this.readChange(this.ch, true);
      this.applyOneWithRetry(this.ch);
    }
    this.finishTable();
  }

  // --- table headers ------------------------------------------------------------------------

  startTable(): void {
    const hdrStart = this.r.pos;
    const h = readTableHeader(this.r, this.patchset);
    this.nCol = h.columnCount;
    this.hdrPk = h.pkFlags;
    this.changesetTable = h.name;
    this.deferConstraints = true;
    this.deferred = [];
    this.partitionOk = true;
    this.ch = {
      op: 0,
      indirect: false,
      start: 0,
      oldVals: new Array(h.columnCount),
      newVals: new Array(h.columnCount),
    };
    this.t = null;
    if (this.filter && !this.filter(h.name)) return;
    const t = loadTable(this.db, this.cache, h.name);
    if (t === null) {
      // a missing sqlite_stat1 (the target never ran ANALYZE) is skipped, as SQLite does
      if (this.checkSchema && h.name.toLowerCase() !== 'sqlite_stat1') {
        throw new SchemaMismatchError(h.name, h.columnCount, undefined);
      }
      return;
    }
    let pkMatches = true;
    for (let i = 0; i < h.columnCount; i++) if (t.pk[i] !== h.pkFlags[i]) pkMatches = false;
    if (this.checkSchema) {
      if (t.tableColumns !== h.columnCount)
        throw new SchemaMismatchError(h.name, h.columnCount, t.tableColumns);
      if (!pkMatches) {
        throw new SchemaMismatchError(
          h.name,
          h.columnCount,
          t.tableColumns,
          'has a different primary key than the changeset',
        );
      }
    } else if (h.columnCount > t.tableColumns || !pkMatches) {
      return; // sqlite3changeset_apply skips such tables (with a log message)
    }
    for (let i = h.columnCount; i < t.tableColumns; i++) if (t.pk[i] !== 0) return;
    this.t = t;
    this.touched.add(t);
    if (t.foreignKeys && !this.fkStarted) this.startForeignKeys(hdrStart);
  }

  /** At the first table with foreign keys: open the optimistic savepoint or defer them. */
  startForeignKeys(hdrStart: number): void {
    this.fkStarted = true;
    if (this.fkMode === Fk.Immediate) {
      miscStmt(this.db, this.cache, 'SAVEPOINT synddb_fk').run();
      this.restartPos = hdrStart;
      this.restartResult = { ...this.result };
      this.immediateFk = true;
    } else if (this.fkMode === Fk.Lazy) {
      this.deferForeignKeys();
    }
  }

  deferForeignKeys(): void {
    miscStmt(this.db, this.cache, 'PRAGMA defer_foreign_keys = 1').run();
    pathStats.fkPragmaWrites++;
    this.deferSet = true;
  }

  /** run(), restarted with deferred foreign keys when the optimistic immediate run meets a conflict. */
  runAll(): void {
    try {
      this.run();
    } catch (e) {
      if (e !== RESTART_DEFERRED) throw e;
      miscStmt(this.db, this.cache, 'ROLLBACK TO synddb_fk').run();
      pathStats.fkRestarts++;
      this.immediateFk = false;
      this.deferForeignKeys();
      Object.assign(this.result, this.restartResult);
      this.r.pos = this.restartPos;
      this.t = null;
      this.nCol = 0;
      this.deferred = [];
      this.run();
    }
  }

  finishTable(): void {
    if (this.t === null) return;
    while (this.deferred.length > 0) {
      const cons = this.deferred;
      this.deferred = [];
      const save = this.r.pos;
      for (const off of cons) {
        this.r.pos = off;
        this.readChange(this.ch, true);
        this.applyOneWithRetry(this.ch);
      }
      this.r.pos = save;
      if (this.deferred.length >= cons.length) this.deferConstraints = false;
    }
    this.t = null;
  }

  // --- decoding -----------------------------------------------------------------------------

  /** Reads one change at the cursor into ch (values converted for binding when bind=true). */
  readChange(ch: Change, bind: boolean): void {
    const r = this.r;
    const start = r.pos;
    const op = r.buf[start]!;
    if (op !== OP_INSERT && op !== OP_UPDATE && op !== OP_DELETE)
      r.fail(`unknown operation 0x${op.toString(16)}`);
    if (start + 1 >= r.end) r.fail('truncated change header');
    const ind = r.buf[start + 1]!;
    if (ind > 1) r.fail(`indirect flag must be 0 or 1, got ${ind}`, start + 1);
    r.pos = start + 2;
    ch.op = op;
    ch.indirect = ind === 1;
    ch.start = start;
    const n = this.nCol;
    const pk = this.hdrPk;
    const intBig = bind && this.t ? this.t.intBig : undefined;
    if (op === OP_INSERT) {
      this.readRecord(ch.newVals, 0, intBig, false, null);
    } else if (op === OP_DELETE) {
      if (this.patchset) {
        for (let i = 0; i < n; i++) {
          if (pk[i] === 0) ch.oldVals[i] = undefined;
          else {
            const at = r.pos;
            const v = r.value(intBig !== undefined && intBig[i] === 1);
            if (v === undefined) r.fail('undefined value in DELETE record', at);
            ch.oldVals[i] = v;
          }
        }
      } else {
        this.readRecord(ch.oldVals, 0, intBig, false, null);
      }
    } else if (this.patchset) {
      const at = r.pos;
      this.readRecord(ch.newVals, 0, intBig, true, null);
      for (let i = 0; i < n; i++) {
        if (pk[i] !== 0) {
          if (ch.newVals[i] === undefined) r.fail('patchset UPDATE lacks a primary-key value', at);
          ch.oldVals[i] = ch.newVals[i];
          ch.newVals[i] = undefined;
        } else {
          ch.oldVals[i] = undefined;
        }
      }
    } else {
      const at = r.pos;
      this.readRecord(ch.oldVals, 0, intBig, true, null);
      for (let i = 0; i < n; i++) {
        if (pk[i] !== 0 && ch.oldVals[i] === undefined)
          r.fail('UPDATE old record lacks a primary-key value', at);
      }
      this.readRecord(ch.newVals, 0, intBig, true, null);
    }
    if (bind && this.t?.stat1) {
      // the session extension records a NULL sqlite_stat1.idx as a zero-length blob
      for (const rec of [ch.oldVals, ch.newVals]) {
        const v = rec[1];
        if (v instanceof Uint8Array && v.length === 0) rec[1] = null;
      }
    }
  }

  readRecord(
    out: ColumnValue[],
    offset: number,
    intBig: Uint8Array | undefined,
    allowUndefined: boolean,
    nil: null | number,
  ): void {
    const r = this.r;
    const n = this.nCol;
    const buf = r.buf;
    const view = r.view;
    const node = r.node;
    const ab = r.ab;
    const byteOffset = r.byteOffset;
    const end = r.end;
    let p = r.pos;
    // Inlined fast cases (INTEGER, REAL, NULL, short TEXT and BLOB); the rest via Reader.value.
    for (let i = 0; i < n; i++) {
      if (p >= end) r.fail('truncated record', p);
      const ty = buf[p]!;
      if (ty === 1 && end - p >= 9) {
        const hi = view.getInt32(p + 1);
        if (hi > -2097152 && hi < 2097152 && (intBig === undefined || intBig[i] !== 1)) {
          out[offset + i] = hi * 4294967296 + view.getUint32(p + 5);
          p += 9;
          continue;
        }
      } else if (ty === 2 && end - p >= 9) {
        out[offset + i] = view.getFloat64(p + 1);
        p += 9;
        continue;
      } else if (ty === 3 || ty === 4) {
        // short TEXT / BLOB (one-byte length): the common case, without the Reader calls
        const c = p + 1 < end ? buf[p + 1]! : 128;
        if (c < 0x80 && end - p - 2 >= c) {
          if (ty === 3) {
            const s =
              c <= ASCII_TEXT_MAX ? asciiText(buf, p + 2, c) : node.utf8Slice(p + 2, p + 2 + c);
            if (s !== undefined && !(c > ASCII_TEXT_MAX && s.includes('\uFFFD'))) {
              out[offset + i] = s;
              p += 2 + c;
              continue;
            }
          } else {
            out[offset + i] = new Uint8Array(ab, byteOffset + p + 2, c);
            p += 2 + c;
            continue;
          }
        }
      } else if (ty === 5) {
        out[offset + i] = nil;
        p += 1;
        continue;
      } else if (ty === 0 && allowUndefined) {
        out[offset + i] = undefined; // unchanged column of an UPDATE
        p += 1;
        continue;
      }
      r.pos = p;
      const v = r.value(intBig !== undefined && intBig[i] === 1);
      if (v === undefined && !allowUndefined) {
        r.fail('undefined value in a record that needs every column', p);
      }
      out[offset + i] = v;
      p = r.pos;
    }
    r.pos = p;
  }

  // --- statements ---------------------------------------------------------------------------

  stmt(key: string | number, build: () => string): Stmt {
    const t = this.t!;
    let s = t.stmts.get(key);
    if (!s) {
      s = this.db.prepare(build());
      t.stmts.set(key, s);
    }
    return s;
  }

  /** Comparison for primary-key column i: '=' as the session extension, 'IS' for sqlite_stat1.idx. */
  pkEq(i: number): string {
    return this.t!.stat1 && i === 1 ? 'IS' : '=';
  }

  colList(): string {
    return this.t!.columns.slice(0, this.nCol).map(quoteIdent).join(', ');
  }

  insertStmt(rows: number): Stmt {
    return this.stmt(`i${this.nCol}:${rows}`, () => {
      const one = `(${new Array(this.nCol).fill('?').join(',')})`;
      return `INSERT INTO main.${quoteIdent(this.t!.name)} (${this.colList()}) VALUES ${new Array(rows).fill(one).join(',')}`;
    });
  }

  /** DELETE by PK; with a trailing "? OR (old values match)" flag when the table has non-PK columns. */
  deleteStmt(): Stmt {
    return this.stmt(`d${this.nCol}`, () => {
      const t = this.t!;
      const where: string[] = [];
      const rest: string[] = [];
      for (let i = 0; i < this.nCol; i++) {
        if (this.hdrPk[i] !== 0) where.push(`${quoteIdent(t.columns[i]!)} ${this.pkEq(i)} ?`);
        else rest.push(`${quoteIdent(t.columns[i]!)} IS ?`);
      }
      let sql = `DELETE FROM main.${quoteIdent(t.name)} WHERE ${where.join(' AND ')}`;
      if (rest.length > 0) sql += ` AND (? OR ${rest.join(' AND ')})`;
      return sql;
    });
  }

  selectStmt(): Stmt {
    return this.stmt(`s${this.nCol}`, () => {
      const t = this.t!;
      const where: string[] = [];
      for (let i = 0; i < this.nCol; i++) {
        if (this.hdrPk[i] !== 0) where.push(`${quoteIdent(t.columns[i]!)} IS ?`);
      }
      return `SELECT ${this.colList()} FROM main.${quoteIdent(t.name)} WHERE ${where.join(' AND ')}`;
    })
      .raw(true)
      .safeIntegers(true);
  }

  /** UPDATE for one set of changed columns. mask: per column 1 = new value set, 2 = old value compared. */
  updateStmt(mask: string): Stmt {
    return this.stmt(`u${mask}`, () => {
      const t = this.t!;
      const set: string[] = [];
      const where: string[] = [];
      for (let i = 0; i < this.nCol; i++) {
        const m = mask.charCodeAt(i) - 48;
        const col = quoteIdent(t.columns[i]!);
        if (m & 1) set.push(`${col} = ?`);
        if (this.hdrPk[i] !== 0) where.push(`${col} ${this.pkEq(i)} ?`);
        else if (m & 2) where.push(`${col} IS ?`);
      }
      if (set.length === 0) {
        const firstPk = this.hdrPk.findIndex((f) => f !== 0);
        set.push(`${quoteIdent(t.columns[firstPk]!)} = ${quoteIdent(t.columns[firstPk]!)}`);
      }
      return `UPDATE main.${quoteIdent(t.name)} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`;
    });
  }

  // --- row-by-row application (mirrors sessionApplyOneOp) -----------------------------------

  applyOneWithRetry(ch: Change): void {
    const outcome = this.applyOneOp(ch, true);
    if (outcome === Outcome.Retry) {
      if (this.applyOneOp(ch, false) === Outcome.Done) this.result.replaced++;
    } else if (outcome === Outcome.Replace) {
      const db = this.db;
      miscStmt(db, this.cache, 'SAVEPOINT synddb_replace_op').run();
      try {
        this.bindDelete(ch.newVals, true);
        runWith(this.deleteStmt(), this.deleteParams);
        const before = this.result.inserted;
        this.applyOneOp(ch, false);
        if (this.result.inserted > before) this.result.replaced++;
        miscStmt(db, this.cache, 'RELEASE synddb_replace_op').run();
      } catch (e) {
        if (db.inTransaction) {
          miscStmt(db, this.cache, 'ROLLBACK TO synddb_replace_op').run();
          miscStmt(db, this.cache, 'RELEASE synddb_replace_op').run();
        }
        throw e;
      }
    }
  }

  deleteParams: ColumnValue[] = [];

  bindDelete(vals: ColumnValue[], pkOnly: boolean): void {
    const n = this.nCol;
    const p = this.deleteParams;
    let k = 0;
    let hasRest = false;
    for (let i = 0; i < n; i++) if (this.hdrPk[i] !== 0) p[k++] = vals[i];
    for (let i = 0; i < n; i++) {
      if (this.hdrPk[i] === 0) {
        if (!hasRest) {
          p[k++] = pkOnly ? 1 : 0;
          hasRest = true;
        }
        p[k++] = pkOnly ? null : vals[i];
      }
    }
    p.length = k;
  }

  applyOneOp(ch: Change, first: boolean): Outcome {
    const op = ch.op;
    if (op === OP_DELETE) {
      this.bindDelete(ch.oldVals, !first || this.patchset);
      let changes: number;
      try {
        changes = runWith(this.deleteStmt(), this.deleteParams).changes;
      } catch (e) {
        if (!isConstraintError(e)) throw e;
        return this.conflict('CONFLICT', ch, false, e);
      }
      if (changes === 0) return this.conflict('DATA', ch, first, undefined);
      this.result.deleted++;
      return Outcome.Done;
    }
    if (op === OP_UPDATE) {
      const patchsetMode = !first || this.patchset;
      const n = this.nCol;
      let mask = '';
      for (let i = 0; i < n; i++) {
        let m = ch.newVals[i] !== undefined ? 1 : 0;
        if (!patchsetMode && this.hdrPk[i] === 0 && ch.oldVals[i] !== undefined) m |= 2;
        mask += String.fromCharCode(48 + m);
      }
      const params: ColumnValue[] = [];
      for (let i = 0; i < n; i++) if (ch.newVals[i] !== undefined) params.push(ch.newVals[i]);
      for (let i = 0; i < n; i++) {
        if (this.hdrPk[i] !== 0 || (!patchsetMode && ch.oldVals[i] !== undefined))
          params.push(ch.oldVals[i]);
      }
      let changes: number;
      try {
        changes = runWith(this.updateStmt(mask), params).changes;
      } catch (e) {
        if (!isConstraintError(e)) throw e;
        return this.conflict('CONFLICT', ch, false, e);
      }
      if (changes === 0) return this.conflict('DATA', ch, first, undefined);
      this.result.updated++;
      return Outcome.Done;
    }
    if (this.t!.stat1) {
      // sqlite_stat1 has no unique key: look for the row first (as sqlite3changeset_apply does)
      const params: ColumnValue[] = [];
      for (let i = 0; i < this.nCol; i++) if (this.hdrPk[i] !== 0) params.push(ch.newVals[i]);
      if (this.selectStmt().get(params) !== undefined)
        return this.conflict('CONFLICT', ch, first, undefined);
    }
    try {
      runWith(this.insertStmt(1), ch.newVals);
    } catch (e) {
      if (!isConstraintError(e)) throw e;
      return this.conflict('CONFLICT', ch, first, e);
    }
    this.result.inserted++;
    return Outcome.Done;
  }

  /** Mirrors sessionConflictHandler. eType is DATA or CONFLICT; seek: look for a row with the PK. */
  conflict(eType: 'DATA' | 'CONFLICT', ch: Change, seek: boolean, cause: unknown): Outcome {
    if (this.immediateFk) throw RESTART_DEFERRED;
    let row: SqlValue[] | undefined;
    if (seek) {
      const src = ch.op === OP_INSERT ? ch.newVals : ch.oldVals;
      const params: ColumnValue[] = [];
      for (let i = 0; i < this.nCol; i++) if (this.hdrPk[i] !== 0) params.push(src[i]);
      const found = this.selectStmt().get(params) as unknown[] | undefined;
      if (found) row = found.map(toSqlValue);
    }
    let kind: ConflictKind = eType;
    if (row === undefined) {
      if (this.deferConstraints && eType === 'CONFLICT') {
        this.deferred.push(ch.start);
        return Outcome.Done;
      }
      kind = eType === 'DATA' ? 'NOTFOUND' : 'CONSTRAINT';
    }
    const info = this.conflictInfo(kind, ch, row);
    const action = this.onConflict(info);
    switch (action) {
      case 'omit':
        this.result.omitted++;
        return Outcome.Done;
      case 'abort':
        throw new ChangesetConflictError(kind, info.table, info.op, info.primaryKey, {
          cause,
          details:
            info.mismatchedColumns && info.mismatchedColumns.length > 0
              ? `old values differ in column(s) ${info.mismatchedColumns.map((c) => `"${c}"`).join(', ')}; indirect=${info.indirect}`
              : `indirect=${info.indirect}`,
          ...(info.mismatchedColumns ? { mismatchedColumns: info.mismatchedColumns } : {}),
        });
      case 'replace':
        if (row === undefined) {
          throw new TypeError(
            `conflict handler returned 'replace' for a ${kind} conflict (allowed for DATA and CONFLICT only)`,
          );
        }
        return eType === 'DATA' ? Outcome.Retry : Outcome.Replace;
      default:
        throw new TypeError(
          `conflict handler returned ${String(action)}; expected 'omit', 'replace' or 'abort'`,
        );
    }
  }

  conflictInfo(kind: ConflictKind, ch: Change, row: SqlValue[] | undefined): ConflictInfo {
    const n = this.nCol;
    const copy = (vals: ColumnValue[]): ColumnValue[] => {
      const out: ColumnValue[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = vals[i];
        out[i] = v === undefined ? undefined : toSqlValue(v);
      }
      return out;
    };
    const oldValues = ch.op === OP_INSERT ? undefined : copy(ch.oldVals);
    const newValues = ch.op === OP_DELETE ? undefined : copy(ch.newVals);
    const pkSrc = (ch.op === OP_INSERT ? newValues : oldValues)!;
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (this.hdrPk[i] !== 0) order.push(i);
    order.sort((a, b) => this.hdrPk[a]! - this.hdrPk[b]! || a - b);
    const info: ConflictInfo = {
      kind,
      table: this.t?.name ?? this.changesetTable,
      op: opName(ch.op),
      primaryKey: order.map((i) => pkSrc[i] as SqlValue),
      oldValues,
      newValues,
      conflictingRow: row,
      indirect: ch.indirect,
    };
    if (kind === 'DATA' && row !== undefined && oldValues !== undefined && this.t) {
      // Name the columns whose stored value differs from the changeset's old value (a JS
      // comparison for diagnostics only: SQLite's IS decided the conflict).
      const cols: string[] = [];
      for (let i = 0; i < n; i++) {
        const o = oldValues[i];
        if (o !== undefined && this.hdrPk[i] === 0 && !sameForDiagnostics(o, row[i] ?? null)) {
          cols.push(this.t.columns[i]!);
        }
      }
      info.mismatchedColumns = cols;
    }
    return info;
  }

  // --- multi-row fast paths -----------------------------------------------------------------

  batchParams: ColumnValue[] = [];
  batchStarts: number[] = [];

  /** Consecutive INSERTs: multi-row INSERT statements; on any constraint error, row by row. */
  insertRun(): void {
    const r = this.r;
    const buf = r.buf;
    const n = this.nCol;
    const t = this.t!;
    const maxRows = Math.max(1, Math.min(INSERT_BATCH_ROWS, Math.floor(MAX_PARAMS / n)));
    const params = this.batchParams;
    const starts = this.batchStarts;
    params.length = maxRows * n;
    let rows = 0;
    while (r.pos < r.end && buf[r.pos] === OP_INSERT && rows < maxRows) {
      const start = r.pos;
      if (start + 1 >= r.end) r.fail('truncated change header');
      const ind = buf[start + 1]!;
      if (ind > 1) r.fail(`indirect flag must be 0 or 1, got ${ind}`, start + 1);
      r.pos = start + 2;
      this.readRecord(params, rows * n, t.intBig, false, BOUND_NULL);
      starts[rows++] = start;
    }
    if (rows === maxRows) {
      if (this.tryInsertBatch(params, rows)) return;
      this.rowByRow(starts, rows);
      return;
    }
    let done = 0;
    while (rows - done >= SMALL_BATCH_ROWS) {
      const slice = params.slice(done * n, (done + SMALL_BATCH_ROWS) * n);
      if (!this.tryInsertBatch(slice, SMALL_BATCH_ROWS))
        this.rowByRow(starts.slice(done), SMALL_BATCH_ROWS);
      done += SMALL_BATCH_ROWS;
    }
    if (done < rows) {
      if (rows - done === 1) {
        // one row: bind straight from the batch buffer
        const slice = n === params.length ? params : params.slice(done * n, done * n + n);
        try {
          runWith(this.insertStmt(1), slice);
          this.result.inserted++;
        } catch (e) {
          if (!this.canFallBack(e)) throw e;
          this.rowByRow(starts.slice(done), 1);
        }
      } else {
        this.rowByRow(starts.slice(done), rows - done);
      }
    }
  }

  tryInsertBatch(params: ColumnValue[], rows: number): boolean {
    pathStats.runBatches++;
    try {
      runWith(this.insertStmt(rows), params);
    } catch (e) {
      if (!this.canFallBack(e)) throw e;
      pathStats.runFallbacks++;
      return false; // the statement was rolled back as a whole
    }
    this.result.inserted += rows;
    return true;
  }

  /**
   * After a multi-row statement failed: replay its changes row by row (which reproduces the
   * exact first failure, or a conflict before it), unless the error is one that can end the
   * transaction or would recur regardless (busy, I/O, full, corrupt, interrupted).
   */
  canFallBack(e: unknown): boolean {
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !code.startsWith('SQLITE_') || !this.db.inTransaction)
      return false;
    return !/^SQLITE_(BUSY|LOCKED|IOERR|FULL|NOMEM|INTERRUPT|CORRUPT|NOTADB|CANTOPEN|READONLY|PERM|ABORT)/.test(
      code,
    );
  }

  rowByRow(starts: ArrayLike<number>, count: number): void {
    pathStats.rows += count;
    const save = this.r.pos;
    for (let k = 0; k < count; k++) {
      this.r.pos = starts[k]!;
      this.readChange(this.ch, true);
      this.applyOneWithRetry(this.ch);
    }
    this.r.pos = save;
  }

  savepoint(): void {
    miscStmt(this.db, this.cache, 'SAVEPOINT synddb_batch').run();
  }
  release(): void {
    miscStmt(this.db, this.cache, 'RELEASE synddb_batch').run();
  }
  rollbackSavepoint(): void {
    if (!this.db.inTransaction) return;
    miscStmt(this.db, this.cache, 'ROLLBACK TO synddb_batch').run();
    miscStmt(this.db, this.cache, 'RELEASE synddb_batch').run();
  }

  updMask = '';
  updParams: ColumnValue[] = [];

  /**
   * Consecutive UPDATEs with the same changed-column set: one UPDATE ... FROM (VALUES ...) per
   * batch inside a savepoint; unless every row matched exactly once, roll back and go row by row.
   * Returns false when the run is not eligible (the caller applies the change row by row).
   */
  updateRun(): boolean {
    const r = this.r;
    const buf = r.buf;
    const n = this.nCol;
    const ch = this.ch;
    const first = r.pos;
    // Decode the first change to learn its mask.
    this.readChange(ch, true);
    let mask = '';
    let setCount = 0;
    let whereCount = 0;
    for (let i = 0; i < n; i++) {
      const isPk = this.hdrPk[i] !== 0;
      const nv = ch.newVals[i] !== undefined;
      if (isPk && nv) {
        r.pos = first;
        return false; // the change rewrites the primary key
      }
      const ov = !isPk && ch.oldVals[i] !== undefined;
      mask += String.fromCharCode(48 + (nv ? 1 : 0) + (ov ? 2 : 0));
      if (nv) setCount++;
      if (isPk || ov) whereCount++;
    }
    const perRow = setCount + whereCount;
    if (setCount === 0 || perRow * 2 > MAX_PARAMS) {
      r.pos = first;
      return false;
    }
    const maxRows = Math.max(1, Math.min(UPDATE_BATCH_ROWS, Math.floor(MAX_PARAMS / perRow)));
    const params = this.updParams;
    params.length = maxRows * perRow;
    const starts = this.batchStarts;
    let rows = 0;
    const push = (): void => {
      let k = rows * perRow;
      for (let i = 0; i < n; i++) {
        const v = ch.newVals[i];
        if (v !== undefined) params[k++] = v === null ? BOUND_NULL : v;
      }
      for (let i = 0; i < n; i++) {
        const v = ch.oldVals[i];
        if (this.hdrPk[i] !== 0 || v !== undefined) params[k++] = v === null ? BOUND_NULL : v;
      }
      starts[rows++] = ch.start;
    };
    push();
    // Where each value of a change with this mask goes in params (-1: the value must be absent).
    const oldSlot = this.oldSlot;
    const newSlot = this.newSlot;
    {
      let set = 0;
      let where = setCount;
      for (let i = 0; i < n; i++) {
        const m = mask.charCodeAt(i) - 48;
        newSlot[i] = m & 1 ? set++ : -1;
        oldSlot[i] = this.hdrPk[i] !== 0 || m & 2 ? where++ : -1;
      }
    }
    while (rows < maxRows && r.pos < r.end && buf[r.pos] === OP_UPDATE) {
      const at = r.pos;
      if (this.readUpdateInto(params, rows * perRow, oldSlot, newSlot)) {
        pathStats.updateFastRows++;
        starts[rows++] = at;
        continue;
      }
      r.pos = at; // another shape (or malformed): decode it the general way
      this.readChange(ch, true);
      let same = true;
      for (let i = 0; i < n; i++) {
        const isPk = this.hdrPk[i] !== 0;
        const m =
          (ch.newVals[i] !== undefined ? 1 : 0) + (!isPk && ch.oldVals[i] !== undefined ? 2 : 0);
        if (m !== mask.charCodeAt(i) - 48 || (isPk && ch.newVals[i] !== undefined)) {
          same = false;
          break;
        }
      }
      if (!same) {
        r.pos = at;
        break;
      }
      push();
    }
    if (rows === maxRows) {
      if (!this.tryUpdateBatch(mask, params, rows, perRow)) this.rowByRow(starts, rows);
      return true;
    }
    let done = 0;
    while (rows - done >= SMALL_BATCH_ROWS) {
      const slice = params.slice(done * perRow, (done + SMALL_BATCH_ROWS) * perRow);
      if (!this.tryUpdateBatch(mask, slice, SMALL_BATCH_ROWS, perRow)) {
        this.rowByRow(starts.slice(done), SMALL_BATCH_ROWS);
      }
      done += SMALL_BATCH_ROWS;
    }
    if (done < rows) this.rowByRow(starts.slice(done), rows - done);
    return true;
  }

  oldSlot: number[] = [];
  newSlot: number[] = [];

  /**
   * Decodes the UPDATE at the cursor straight into params (at base + slot) when its shape
   * matches the slots: old values exactly where oldSlot >= 0, new values exactly where
   * newSlot >= 0. Returns false otherwise (cursor unspecified; the caller rewinds and decodes
   * it with readChange, which reports malformed input exactly as before). Values are read in
   * wire order, so a malformed value throws the same error readChange would.
   */
  readUpdateInto(
    params: ColumnValue[],
    base: number,
    oldSlot: number[],
    newSlot: number[],
  ): boolean {
    const r = this.r;
    const buf = r.buf;
    const view = r.view;
    const end = r.end;
    const n = this.nCol;
    const intBig = this.t!.intBig;
    const at = r.pos;
    if (at + 1 >= end || buf[at + 1]! > 1) return false;
    let p = at + 2;
    for (let rec = 0; rec < 2; rec++) {
      const slots = rec === 0 ? oldSlot : newSlot;
      for (let i = 0; i < n; i++) {
        if (p >= end) return false;
        const ty = buf[p]!;
        const slot = slots[i]!;
        if (slot < 0) {
          if (ty !== 0) return false;
          p++;
          continue;
        }
        if (ty === 0) return false;
        if (ty === 1 && end - p >= 9 && intBig[i] !== 1) {
          const hi = view.getInt32(p + 1);
          if (hi > -2097152 && hi < 2097152) {
            params[base + slot] = hi * 4294967296 + view.getUint32(p + 5);
            p += 9;
            continue;
          }
        } else if (ty === 2 && end - p >= 9) {
          params[base + slot] = view.getFloat64(p + 1);
          p += 9;
          continue;
        } else if (ty === 5) {
          params[base + slot] = BOUND_NULL;
          p++;
          continue;
        }
        r.pos = p;
        params[base + slot] = r.value(intBig[i] === 1);
        p = r.pos;
      }
    }
    r.pos = p;
    return true;
  }

  tryUpdateBatch(mask: string, params: ColumnValue[], rows: number, perRow: number): boolean {
    if (!this.runBatch(this.updateBatchStmt(mask, rows, perRow), params, rows)) return false;
    this.result.updated += rows;
    return true;
  }

  /**
   * Runs one multi-row statement in a savepoint; true when it changed exactly `rows` rows. Any
   * other count, or a recoverable SQLite error, rolls it back so the caller replays row by row.
   */
  runBatch(s: Stmt, params: ColumnValue[], rows: number): boolean {
    pathStats.runBatches++;
    this.savepoint();
    let changes: number;
    try {
      changes = runWith(s, params).changes;
    } catch (e) {
      this.rollbackSavepoint();
      if (!this.canFallBack(e)) throw e;
      return false;
    }
    if (changes !== rows) {
      this.rollbackSavepoint();
      return false;
    }
    this.release();
    return true;
  }

  updateBatchStmt(mask: string, rows: number, perRow: number): Stmt {
    return this.stmt(`U${mask}:${rows}`, () => {
      const t = this.t!;
      const set: string[] = [];
      const where: string[] = [];
      let k = 1;
      const n = this.nCol;
      for (let i = 0; i < n; i++) {
        if ((mask.charCodeAt(i) - 48) & 1)
          set.push(`${quoteIdent(t.columns[i]!)} = _v.column${k++}`);
      }
      for (let i = 0; i < n; i++) {
        const col = `_t.${quoteIdent(t.columns[i]!)}`;
        if (this.hdrPk[i] !== 0) where.push(`${col} = _v.column${k++}`);
        else if ((mask.charCodeAt(i) - 48) & 2) where.push(`${col} IS _v.column${k++}`);
      }
      const one = `(${new Array(perRow).fill('?').join(',')})`;
      return `UPDATE main.${quoteIdent(t.name)} AS _t SET ${set.join(', ')} FROM (VALUES ${new Array(rows).fill(one).join(',')}) AS _v WHERE ${where.join(' AND ')}`;
    });
  }

  /** Consecutive DELETEs: DELETE ... WHERE pk IN (rows whose PK and old values match), all or nothing. */
  deleteRun(): void {
    const r = this.r;
    const buf = r.buf;
    const n = this.nCol;
    const t = this.t!;
    const maxRows = Math.max(1, Math.min(DELETE_BATCH_ROWS, Math.floor(MAX_PARAMS / n)));
    const params = this.batchParams;
    params.length = maxRows * n;
    const starts = this.batchStarts;
    let rows = 0;
    while (r.pos < r.end && buf[r.pos] === OP_DELETE && rows < maxRows) {
      const start = r.pos;
      if (start + 1 >= r.end) r.fail('truncated change header');
      const ind = buf[start + 1]!;
      if (ind > 1) r.fail(`indirect flag must be 0 or 1, got ${ind}`, start + 1);
      r.pos = start + 2;
      this.readRecord(params, rows * n, t.intBig, false, BOUND_NULL);
      starts[rows++] = start;
    }
    if (rows === maxRows) {
      if (!this.tryDeleteBatch(params, rows)) this.rowByRow(starts, rows);
      return;
    }
    let done = 0;
    while (rows - done >= SMALL_BATCH_ROWS) {
      const slice = params.slice(done * n, (done + SMALL_BATCH_ROWS) * n);
      if (!this.tryDeleteBatch(slice, SMALL_BATCH_ROWS))
        this.rowByRow(starts.slice(done), SMALL_BATCH_ROWS);
      done += SMALL_BATCH_ROWS;
    }
    if (done < rows) this.rowByRow(starts.slice(done), rows - done);
  }

  tryDeleteBatch(params: ColumnValue[], rows: number): boolean {
    if (!this.runBatch(this.deleteBatchStmt(rows), params, rows)) return false;
    this.result.deleted += rows;
    return true;
  }

  deleteBatchStmt(rows: number): Stmt {
    const n = this.nCol;
    return this.stmt(`D${n}:${rows}`, () => {
      const t = this.t!;
      if (n > 100) return this.deleteJoinSql(rows); // keeps the expression tree shallow
      // one term per row (the single-row DELETE's condition): SQLite looks each one up by key
      const conds: string[] = [];
      for (let i = 0; i < n; i++) {
        const col = quoteIdent(t.columns[i]!);
        conds.push(this.hdrPk[i] !== 0 ? `${col} = ?` : `${col} IS ?`);
      }
      const one = `(${conds.join(' AND ')})`;
      return `DELETE FROM main.${quoteIdent(t.name)} WHERE ${new Array(rows).fill(one).join(' OR ')}`;
    });
  }

  /** DELETE ... WHERE pk IN (rows whose PK and old values match). */
  deleteJoinSql(rows: number): string {
    const n = this.nCol;
    const t = this.t!;
    const on: string[] = [];
    const pkCols: string[] = [];
    for (let i = 0; i < n; i++) {
      const col = quoteIdent(t.columns[i]!);
      if (this.hdrPk[i] !== 0) {
        on.push(`_t.${col} = _v.column${i + 1}`);
        pkCols.push(col);
      } else on.push(`_t.${col} IS _v.column${i + 1}`);
    }
    const one = `(${new Array(n).fill('?').join(',')})`;
    const sel = pkCols.map((c) => `_t.${c}`).join(', ');
    return `DELETE FROM main.${quoteIdent(t.name)} WHERE (${pkCols.join(', ')}) IN (SELECT ${sel} FROM (VALUES ${new Array(rows).fill(one).join(',')}) AS _v JOIN main.${quoteIdent(t.name)} AS _t ON ${on.join(' AND ')})`;
  }

  // --- chunked, partitioned, sorted fast path ------------------------------------------------

  /**
   * Applies up to CHUNK consecutive changes of a "simple" table (no triggers, foreign keys,
   * secondary UNIQUE indexes or REPLACE clauses) whose primary keys are pairwise distinct and
   * exactly comparable in JS. Such changes touch distinct rows and no change's outcome depends on
   * another's, so they can run grouped by operation and sorted by key, as multi-row statements
   * inside one savepoint. Every statement must affect exactly its row count; otherwise the chunk
   * is rolled back and replayed row by row in changeset order, so conflicts are classified
   * exactly as sqlite3changeset_apply does. Returns false (cursor unchanged) when the chunk does
   * not qualify.
   */
  partitionChunk(): boolean {
    const r = this.r;
    const chunkStart = r.pos;
    const pkOrder = this.pkOrder();
    const single = pkOrder.length === 1;
    const firstPk = pkOrder[0]!;
    const keyClass = this.t!.keyClass;
    const sc = takeScratch();
    try {
      return this.partitionWith(sc, chunkStart, pkOrder, single, firstPk, keyClass, r.view, r.end);
    } finally {
      releaseScratch(sc);
    }
  }

  partitionWith(
    sc: ChunkScratch,
    chunkStart: number,
    pkOrder: number[],
    single: boolean,
    firstPk: number,
    keyClass: Uint8Array,
    view: DataView,
    end: number,
  ): boolean {
    const r = this.r;
    const buf = r.buf;
    const n = this.nCol;
    const pk = this.hdrPk;
    const pkVals = this.pkTmp;
    const codes = this.maskCodes;
    const wideMasks = n > 26;
    // Fast mode: a single integer primary key; duplicates are found after sorting, no Set needed.
    const intMode = single && (keyClass[firstPk]! & 1) === 1;
    // Composite keys led by a numbers-only column: no Set of composite key strings (most of the
    // scan's time); after sorting by the first column, only changes that share its value are
    // compared exactly.
    const numLead = !single && keyClass[firstPk] === 1;
    let seen: Set<unknown> | undefined;
    let sortable = true;
    /** Every sort key is a safe integer (a stable counting sort applies when they are dense). */
    let denseInts = true;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let count = 0;
    let updates = 0;
    const fail = (): false => {
      r.pos = chunkStart;
      return false;
    };
    // Scan: only primary keys are materialised; other values are skipped (decoded later).
    while (r.pos < end && count < CHUNK_CHANGES) {
      const start = r.pos;
      const op = buf[start]!;
      if (op === TABLE_CHANGESET || op === TABLE_PATCHSET) break;
      if (op !== OP_INSERT && op !== OP_UPDATE && op !== OP_DELETE) return fail();
      if (start + 1 >= end || buf[start + 1]! > 1) return fail();
      const upd = op === OP_UPDATE;
      // inlined skipping of non-key values (the hot loop of the scan)
      let p = start + 2;
      for (let i = 0; i < n; i++) {
        if (p >= end) return fail();
        const ty = buf[p]!;
        if (pk[i] !== 0) {
          if (upd) codes[i] = 0;
          if (ty === 1 && end - p >= 9) {
            const hi = view.getInt32(p + 1);
            if (hi > -2097152 && hi < 2097152) {
              pkVals[i] = hi * 4294967296 + view.getUint32(p + 5);
              p += 9;
              continue;
            }
          }
          r.pos = p;
          pkVals[i] = r.value(false);
          p = r.pos;
          continue;
        }
        if (upd) codes[i] = ty !== 0 ? 2 : 0;
        p++;
        if (ty === 1 || ty === 2) p += 8;
        else if (ty === 3 || ty === 4) {
          if (p >= end) return fail();
          const c = buf[p]!;
          let len: number;
          if (c < 0x80) {
            len = c;
            p++;
          } else {
            r.pos = p;
            len = r.varint();
            p = r.pos;
          }
          p += len;
        } else if (ty !== 0 && ty !== 5) return fail();
      }
      if (p > end) return fail();
      r.pos = p;
      if (count === sc.cap) sc.grow();
      if (upd) {
        let sets = 0;
        for (let i = 0; i < n; i++) {
          if (r.pos >= end) return fail();
          if (buf[r.pos] !== 0) {
            if (pk[i] !== 0) return fail(); // rewrites the primary key
            codes[i]! += 1;
            sets++;
          }
          r.skipRaw();
        }
        if (sets === 0) return fail();
        if (!wideMasks) {
          let m = 0;
          for (let i = n - 1; i >= 0; i--) m = m * 4 + codes[i]!;
          sc.masks[count] = m;
        } else {
          let m = '';
          for (let i = 0; i < n; i++) m += String.fromCharCode(48 + codes[i]!);
          sc.wide[count] = m;
        }
        updates++;
      }
      const fv = pkVals[firstPk];
      if (intMode) {
        let k: number;
        if (typeof fv === 'number' && Number.isSafeInteger(fv)) k = fv;
        else if (typeof fv === 'bigint' && fv >= -9007199254740991n && fv <= 9007199254740991n)
          k = Number(fv);
        else return fail();
        if (k < min) min = k;
        if (k > max) max = k;
        sc.keys[count] = k;
      } else if (numLead) {
        if (!this.keyComparable(pkOrder, keyClass)) return fail();
        let k: number;
        if (typeof fv === 'number') k = fv;
        else if (typeof fv === 'bigint') k = Number(fv);
        else return fail();
        if (!Number.isFinite(k)) return fail();
        if (!Number.isSafeInteger(k)) denseInts = false;
        else {
          if (k < min) min = k;
          if (k > max) max = k;
        }
        sc.keys[count] = k;
      } else {
        const key = this.exactKey(pkOrder, keyClass, single);
        if (key === undefined) return fail();
        seen ??= new Set();
        if (seen.has(key)) return fail();
        seen.add(key);
        let k = 0;
        if (typeof fv === 'number') k = fv;
        else if (typeof fv === 'bigint') k = Number(fv);
        else sortable = false;
        if (!Number.isSafeInteger(k)) denseInts = false;
        else {
          if (k < min) min = k;
          if (k > max) max = k;
        }
        sc.keys[count] = k;
      }
      sc.starts[count] = start;
      sc.ops[count] = op;
      count++;
    }
    if (count < PARTITION_MIN_CHANGES) return fail();
    const keys = sc.keys;
    // Order: by the first primary-key column (B-tree locality); in intMode also detect duplicates.
    let order: ArrayLike<number>;
    if (intMode && max - min <= 4 * count + 1024) {
      // counting sort over a dense integer range
      const slots = new Int32Array(max - min + 1).fill(-1);
      for (let i = 0; i < count; i++) {
        const s = keys[i]! - min;
        if (slots[s] !== -1) return fail();
        slots[s] = i;
      }
      const o = new Int32Array(count);
      let k = 0;
      for (let s = 0; s < slots.length; s++) if (slots[s]! !== -1) o[k++] = slots[s]!;
      order = o;
    } else if (!intMode && sortable && denseInts && max - min <= 4 * count + 1024) {
      // stable counting sort (first key column only; equal keys keep changeset order)
      const pos = new Int32Array(max - min + 2);
      for (let i = 0; i < count; i++) pos[keys[i]! - min + 1]!++;
      for (let s = 1; s < pos.length; s++) pos[s]! += pos[s - 1]!;
      const o = new Int32Array(count);
      for (let i = 0; i < count; i++) o[pos[keys[i]! - min]!++] = i;
      order = o;
    } else if (sortable && denseInts && max - min < 2 ** 34) {
      // sparse integer keys (e.g. updates spread over a large table): sort (key - min) *
      // CHUNK_CHANGES + index, exact in a double (< 2^53), with the typed array's numeric sort
      // instead of a comparator sort; the index keeps it stable
      const packed = new Float64Array(count);
      for (let i = 0; i < count; i++) packed[i] = (keys[i]! - min) * CHUNK_CHANGES + i;
      packed.sort();
      const o = new Int32Array(count);
      for (let j = 0; j < count; j++) o[j] = packed[j]! % CHUNK_CHANGES;
      if (intMode) {
        for (let i = 1; i < count; i++) if (keys[o[i]!] === keys[o[i - 1]!]) return fail();
      }
      order = o;
    } else {
      const o = Array.from({ length: count }, (_, i) => i);
      if (sortable) o.sort((a, b) => keys[a]! - keys[b]!);
      if (intMode) {
        for (let i = 1; i < count; i++) if (keys[o[i]!] === keys[o[i - 1]!]) return fail();
      }
      order = o;
    }
    if (numLead && !this.distinctWithinTies(order, keys, count, sc.starts, pkOrder, keyClass))
      return fail();
    // Group by operation (stable, so each group stays in key order): deletes, the UPDATE masks
    // in order of first appearance, inserts. group[g]..group[g+1] delimits group g in `grouped`.
    const ops = sc.ops;
    const gid = sc.gid;
    const maskGroups = new Map<number | string, number>();
    const groupMasks: string[] = ['', ''];
    for (let i = 0; i < count; i++) {
      const op = ops[i]!;
      if (op === OP_DELETE) gid[i] = 0;
      else if (op === OP_INSERT) gid[i] = 1;
      else {
        const mk = wideMasks ? sc.wide[i]! : sc.masks[i]!;
        let g = maskGroups.get(mk);
        if (g === undefined) {
          g = groupMasks.length;
          maskGroups.set(mk, g);
          groupMasks.push(typeof mk === 'string' ? mk : maskString(mk, n));
        }
        gid[i] = g;
      }
    }
    const groups = groupMasks.length;
    const bounds = new Int32Array(groups + 1);
    for (let i = 0; i < count; i++) bounds[gid[i]! + 1]!++;
    for (let g = 1; g <= groups; g++) bounds[g]! += bounds[g - 1]!;
    const fill = bounds.slice(0, groups);
    const grouped = sc.grouped;
    for (let j = 0; j < count; j++) {
      const i = order[j]!;
      grouped[fill[gid[i]!]!++] = i;
    }
    const starts = sc.starts;
    const chunkEnd = r.pos;
    this.savepoint();
    let ok = false;
    let rolledBack = false;
    try {
      ok = this.partitionGroup(grouped, bounds[0]!, bounds[1]!, OP_DELETE, '', starts);
      for (let g = 2; ok && g < groups; g++) {
        ok = this.partitionGroup(
          grouped,
          bounds[g]!,
          bounds[g + 1]!,
          OP_UPDATE,
          groupMasks[g]!,
          starts,
        );
      }
      if (ok) ok = this.partitionGroup(grouped, bounds[1]!, bounds[2]!, OP_INSERT, '', starts);
    } catch (e) {
      this.rollbackSavepoint();
      rolledBack = true;
      if (!this.canFallBack(e)) throw e;
      ok = false;
    }
    pathStats.partitionChunks++;
    if (ok) {
      this.release();
      const deletes = bounds[1]! - bounds[0]!;
      this.result.deleted += deletes;
      this.result.inserted += count - deletes - updates;
      this.result.updated += updates;
    } else {
      pathStats.partitionFallbacks++;
      if (!rolledBack) this.rollbackSavepoint();
      this.rowByRow(starts, count);
    }
    r.pos = chunkEnd;
    return true;
  }

  /** Exact JS identity of the primary key in pkTmp, or undefined when it cannot be decided. */
  exactKey(pkOrder: number[], keyClass: Uint8Array, single: boolean): unknown {
    let composite = '';
    for (let k = 0; k < pkOrder.length; k++) {
      const col = pkOrder[k]!;
      const kc = keyClass[col]!;
      const v = this.pkTmp[col];
      let part: unknown;
      if (typeof v === 'number') {
        if ((kc & 1) === 0 && kc !== 4) return undefined;
        part = Number.isInteger(v) && !Number.isSafeInteger(v) ? `b${BigInt(v)}` : v;
      } else if (typeof v === 'bigint') {
        if ((kc & 1) === 0 && kc !== 4) return undefined;
        part = v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : `b${v}`;
      } else if (typeof v === 'string') {
        if ((kc & 2) === 0) return undefined;
        part = `s${v}`;
      } else if (v instanceof Uint8Array) {
        if (kc < 3) return undefined;
        part = `x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
      } else {
        return undefined;
      }
      if (single) return part;
      composite += `${typeof part === 'number' ? `n${part}` : (part as string)}\u0000`;
    }
    return composite;
  }

  /** exactKey's type checks alone: can every primary-key value in pkTmp be compared exactly? */
  keyComparable(pkOrder: number[], keyClass: Uint8Array): boolean {
    for (let k = 0; k < pkOrder.length; k++) {
      const col = pkOrder[k]!;
      const kc = keyClass[col]!;
      const v = this.pkTmp[col];
      if (typeof v === 'number' || typeof v === 'bigint') {
        if ((kc & 1) === 0 && kc !== 4) return false;
      } else if (typeof v === 'string') {
        if ((kc & 2) === 0) return false;
      } else if (!(v instanceof Uint8Array) || kc < 3) return false;
    }
    return true;
  }

  /**
   * Composite keys in `order`, sorted by their first column's value in `keys`: true when the
   * changes within each run of equal first values have pairwise distinct exact keys.
   */
  distinctWithinTies(
    order: ArrayLike<number>,
    keys: Float64Array,
    count: number,
    starts: Float64Array,
    pkOrder: number[],
    keyClass: Uint8Array,
  ): boolean {
    let j = 1;
    while (j < count) {
      const k = keys[order[j - 1]!]!;
      if (keys[order[j]!] !== k) {
        j++;
        continue;
      }
      let e = j + 1;
      while (e < count && keys[order[e]!] === k) e++;
      const seen = new Set<unknown>();
      for (let x = j - 1; x < e; x++) {
        this.readKeyAt(starts[order[x]!]!);
        const key = this.exactKey(pkOrder, keyClass, false);
        if (key === undefined || seen.has(key)) return false;
        seen.add(key);
      }
      j = e + 1;
    }
    return true;
  }

  /** Reads the primary-key values of the change at `start` into pkTmp. Cursor unchanged. */
  readKeyAt(start: number): void {
    const r = this.r;
    const save = r.pos;
    r.pos = start + 2;
    for (let i = 0; i < this.nCol; i++) {
      if (this.hdrPk[i] !== 0) this.pkTmp[i] = r.value(false);
      else r.skipRaw();
    }
    r.pos = save;
  }

  pkTmp: ColumnValue[] = [];
  maskCodes: number[] = [];

  /** True when the next `count` changes (or all up to the next table) are all `op`. Cursor unchanged. */
  uniformPrefix(op: number, count: number): boolean {
    const r = this.r;
    const buf = r.buf;
    const start = r.pos;
    const records = op === OP_UPDATE ? 2 : 1;
    try {
      for (let k = 0; k < count && r.pos < r.end; k++) {
        const b = buf[r.pos]!;
        if (b === TABLE_CHANGESET || b === TABLE_PATCHSET) break;
        if (b !== op) return false;
        r.pos += 2;
        for (let i = 0; i < records * this.nCol; i++) r.skipRaw();
      }
      return true;
    } catch {
      return false; // malformed: let the exact path report it
    } finally {
      r.pos = start;
    }
  }
  oldTmp: ColumnValue[] = [];
  newTmp: ColumnValue[] = [];

  pkOrder(): number[] {
    const pk = this.hdrPk;
    const order: number[] = [];
    for (let i = 0; i < this.nCol; i++) if (pk[i] !== 0) order.push(i);
    return order.sort((a, b) => pk[a]! - pk[b]! || a - b);
  }

  /** Runs one operation group as multi-row statements; false when a statement's row count is off. */
  partitionGroup(
    idx: Int32Array,
    from: number,
    to: number,
    op: number,
    mask: string,
    starts: Float64Array,
  ): boolean {
    if (from === to) return true;
    const r = this.r;
    const buf = r.buf;
    const n = this.nCol;
    const pk = this.hdrPk;
    const intBig = this.t!.intBig;
    let perRow = n;
    const oldSlot = this.oldSlot;
    const newSlot = this.newSlot;
    if (op === OP_UPDATE) {
      // where each value of this mask goes in a row's parameters (as in updateRun)
      let sets = 0;
      for (let i = 0; i < n; i++) if ((mask.charCodeAt(i) - 48) & 1) sets++;
      let set = 0;
      let where = sets;
      for (let i = 0; i < n; i++) {
        const m = mask.charCodeAt(i) - 48;
        newSlot[i] = m & 1 ? set++ : -1;
        oldSlot[i] = pk[i] !== 0 || m & 2 ? where++ : -1;
      }
      perRow = where;
    }
    const cap =
      op === OP_INSERT
        ? INSERT_BATCH_ROWS
        : op === OP_UPDATE
          ? UPDATE_BATCH_ROWS
          : DELETE_BATCH_ROWS;
    const maxRows = Math.max(1, Math.min(cap, Math.floor(MAX_PARAMS / perRow)));
    const oldTmp = this.oldTmp;
    const newTmp = this.newTmp;
    let done = from;
    while (done < to) {
      let rows = maxRows;
      const left = to - done;
      // the rest in power-of-two statements (at most log2 of them, and as many cached sizes)
      if (left < rows) rows = 2 ** (31 - Math.clz32(left));
      if (rows > maxRows) rows = maxRows;
      const params = this.groupParams;
      params.length = rows * perRow;
      // The group is in key order, so its changes lie scattered over the changeset: touch each
      // one first, a loop of independent loads the CPU overlaps, instead of one cache miss at a
      // time while decoding.
      let touch = 0;
      for (let j = 0; j < rows; j++) touch ^= buf[starts[idx[done + j]!]!]!;
      this.touchSink ^= touch;
      let k = 0;
      for (let j = 0; j < rows; j++) {
        const start = starts[idx[done + j]!]!;
        if (op === OP_UPDATE) {
          // the scan matched this change's shape to the mask: decode it straight into its slots
          r.pos = start;
          if (this.readUpdateInto(params, k, oldSlot, newSlot)) {
            k += perRow;
            continue;
          }
        }
        r.pos = start + 2;
        if (op === OP_UPDATE) {
          this.readRecord(oldTmp, 0, intBig, true, BOUND_NULL);
          this.readRecord(newTmp, 0, intBig, true, BOUND_NULL);
          for (let i = 0; i < n; i++) if ((mask.charCodeAt(i) - 48) & 1) params[k++] = newTmp[i];
          for (let i = 0; i < n; i++) {
            if (pk[i] !== 0 || (mask.charCodeAt(i) - 48) & 2) params[k++] = oldTmp[i];
          }
        } else {
          this.readRecord(params, k, intBig, false, BOUND_NULL);
          k += n;
        }
      }
      let changes: number;
      if (op === OP_INSERT) changes = runWith(this.insertStmt(rows), params).changes;
      else if (op === OP_DELETE) changes = runWith(this.deleteBatchStmt(rows), params).changes;
      else changes = runWith(this.updateBatchStmt(mask, rows, perRow), params).changes;
      if (changes !== rows) return false;
      done += rows;
    }
    return true;
  }

  groupParams: ColumnValue[] = [];
  /** Sink of partitionGroup's touch loop (keeps the loads from being optimised away). */
  touchSink = 0;
}

// ---------------------------------------------------------------------------------------------
// Transactions and foreign keys

function foreignKeyViolations(db: Database, cache: DbCache, touched: Set<TableInfo>): number {
  const children = fkChildren(db, cache);
  const check = new Set<string>();
  for (const t of touched) {
    if (!t.foreignKeys) continue;
    check.add(t.name);
    for (const c of children.get(t.name.toLowerCase()) ?? []) check.add(c);
  }
  let count = 0;
  const stmt = miscStmt(
    db,
    cache,
    `SELECT count(*) FROM pragma_foreign_key_check(?, 'main')`,
  ).pluck();
  for (const name of check) count += stmt.get(name) as number;
  return count;
}

function applyImpl(
  db: Database,
  buf: Uint8Array,
  patchset: boolean,
  options: ApplyOptions,
): ApplyResult {
  if (!(buf instanceof Uint8Array)) throw new TypeError('changeset must be a Uint8Array');
  const mode = options.transaction ?? 'own';
  if (mode !== 'own' && mode !== 'caller')
    throw new TypeError(`transaction must be 'own' or 'caller'`);
  if (mode === 'caller' && !db.inTransaction) {
    throw new TypeError(
      "transaction: 'caller' requires an open transaction (db.inTransaction is false)",
    );
  }
  if (mode === 'own' && db.inTransaction) {
    throw new TypeError(
      "a transaction is already open; pass transaction: 'caller' to apply inside it",
    );
  }
  if (buf.byteLength === 0) return { inserted: 0, updated: 0, deleted: 0, omitted: 0, replaced: 0 };
  const cache = getCache(db);
  const fkOn = cache.foreignKeysStmt.get() === 1;
  const engine = new Engine(db, cache, buf, patchset, options);
  const begin = () =>
    miscStmt(db, cache, mode === 'own' ? 'BEGIN IMMEDIATE' : 'SAVEPOINT synddb_apply').run();
  const rollback = () => {
    if (!db.inTransaction) return;
    if (mode === 'own') miscStmt(db, cache, 'ROLLBACK').run();
    else {
      miscStmt(db, cache, 'ROLLBACK TO synddb_apply').run();
      miscStmt(db, cache, 'RELEASE synddb_apply').run();
    }
  };
  begin();
  try {
    refreshSchema(cache);
    if (fkOn && fkChildren(db, cache).size > 0) {
      if (miscStmt(db, cache, 'PRAGMA defer_foreign_keys').pluck().get() === 1)
        engine.fkMode = Fk.Already;
      else engine.fkMode = hasDeferrable(db, cache) ? Fk.Lazy : Fk.Immediate;
    }
    engine.runAll();
    if (engine.fkMode === Fk.None) {
      miscStmt(db, cache, mode === 'own' ? 'COMMIT' : 'RELEASE synddb_apply').run();
    } else if (mode === 'caller') {
      // An immediate run that finished introduced no violation (every statement was checked),
      // as a deferred run would have ended with a zero counter. Otherwise the counter cannot be
      // read inside the caller's transaction: check the touched tables and their children.
      if (engine.deferSet || engine.fkMode === Fk.Already) {
        const violations = foreignKeyViolations(db, cache, engine.touched);
        if (violations > 0) foreignKeyConflict(engine, violations);
      }
      if (engine.deferSet) {
        miscStmt(db, cache, 'PRAGMA defer_foreign_keys = 0').run();
        pathStats.fkPragmaWrites++;
      }
      miscStmt(db, cache, 'RELEASE synddb_apply').run();
    } else {
      // Keep defer_foreign_keys on: switching it off would zero the deferred-violation counter
      // that COMMIT checks (COMMIT switches it off itself).
      try {
        miscStmt(db, cache, 'COMMIT').run();
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY' || !db.inTransaction)
          throw e;
        foreignKeyConflict(engine, foreignKeyViolations(db, cache, engine.touched), e);
        // omitted: as sqlite3changeset_apply, switching defer_foreign_keys off forgets the
        // outstanding violations, and the transaction commits with them
        miscStmt(db, cache, 'PRAGMA defer_foreign_keys = 0').run();
        pathStats.fkPragmaWrites++;
        miscStmt(db, cache, 'COMMIT').run();
      }
    }
  } catch (e) {
    rollback();
    if (mode === 'caller' && engine.deferSet && db.inTransaction) {
      miscStmt(db, cache, 'PRAGMA defer_foreign_keys = 0').run();
      pathStats.fkPragmaWrites++;
    }
    throw e;
  }
  return engine.result;
}

function foreignKeyConflict(engine: Engine, violations: number, cause?: unknown): void {
  const info: ConflictInfo = {
    kind: 'FOREIGN_KEY',
    table: '',
    op: 'INSERT',
    primaryKey: [],
    oldValues: undefined,
    newValues: undefined,
    conflictingRow: undefined,
    foreignKeyViolations: violations,
    indirect: false,
  };
  const action = engine.onConflict(info);
  if (action === 'omit') return;
  throw new ChangesetConflictError('FOREIGN_KEY', '', 'INSERT', [], {
    cause,
    details: `${violations} foreign-key violation(s) outstanding`,
  });
}

/**
 * Applies a changeset to `db` with the semantics of sqlite3changeset_apply: rows are matched by
 * primary key, DELETE and UPDATE check old values, conflicts are classified DATA, NOTFOUND,
 * CONFLICT, CONSTRAINT, FOREIGN_KEY and resolved by `onConflict` (default: omit CONFLICT on
 * INSERT, abort everything else with ChangesetConflictError). All or nothing.
 */
export function applyChangeset(
  db: Database,
  changeset: Uint8Array,
  options: ApplyOptions = {},
): ApplyResult {
  return applyImpl(db, changeset, false, options);
}

/** Same as applyChangeset for a patchset ('P' table headers). */
export function applyPatchset(
  db: Database,
  patchset: Uint8Array,
  options: ApplyOptions = {},
): ApplyResult {
  return applyImpl(db, patchset, true, options);
}
