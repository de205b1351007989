// Point reads answered on the calling thread. A query that a worker has answered once, and whose
// compiled program is a single keyed lookup, is from then on answered here, on a read-only
// better-sqlite3 connection of this thread: no round trip to a worker process. On a 2-core VM
// each such round trip was two cross-process wake-ups (~50-65 us of CPU each in the sender's
// socket write) plus the worker's own event-loop turn, which is most of a point query's cost.
//
// Why this is safe on the thread that also answers /health:
// - What may run was decided by a worker: a statement is learned only after a worker (read-only
//   connection, SQLite authorizer, limits) answered it successfully, and only from its exact text.
// - What it costs is bounded by its bytecode, checked once with EXPLAIN: only the opcodes of a
//   seek to at most one row and reads of its columns (no Next/Prev/Rewind, so no loop over a
//   table; no function calls, no sorter, no temporary table, no concatenation), in at most
//   `maxSqlLength` characters of SQL. Such a program reads one row by key.
// - A result over `maxResultBytes` or any error sends that request to a worker (which gives the
//   canonical error). Three runs in a row over `budgetMs` of the thread's CPU or over
//   `maxResultBytes` send the statement back to the workers for a minute. The schema changing (a snapshot)
//   forgets what was learned.
// The answer is the one a worker gives: the same columns, the same JSON of the values, and the
// sequence read in the same read transaction as the rows.
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { valueJson } from './run-read';

export interface PointReadsOptions {
  /** Longest SQL text answered here (characters). Default 512. */
  maxSqlLength?: number | undefined;
  /** Largest result answered here (JSON bytes of the rows); larger goes to a worker. Default 64 KiB. */
  maxResultBytes?: number | undefined;
  /**
   * Runs that use more of the thread's CPU than this, three in a row, send their statement back
   * to the workers for good. Default 2 ms.
   */
  budgetMs?: number | undefined;
  /** Statements remembered (learned or refused), oldest forgotten first. Default 1024. */
  maxStatements?: number | undefined;
}

/** Opcodes of a program that seeks at most one row by key and reads its columns. */
const POINT_OPCODES: ReadonlySet<string> = new Set([
  'Init',
  'Goto',
  'Halt',
  'Transaction',
  'TableLock',
  'OpenRead',
  'ColumnsUsed',
  'Variable',
  'Integer',
  'Int64',
  'Real',
  'String8',
  'String',
  'Null',
  'Blob',
  'SeekRowid',
  'NotExists',
  'MustBeInt',
  'IsNull',
  'NotNull',
  'Affinity',
  'SeekGE',
  'SeekGT',
  'SeekLE',
  'SeekLT',
  'IdxGT',
  'IdxGE',
  'IdxLT',
  'IdxLE',
  'DeferredSeek',
  'IdxRowid',
  'Rowid',
  'Column',
  'Copy',
  'SCopy',
  'RealAffinity',
  'Eq',
  'Ne',
  'Lt',
  'Le',
  'Gt',
  'Ge',
  'If',
  'IfNot',
  'ResultRow',
  'Noop',
  'Explain',
]);

export interface PointReadResult {
  columns: string[];
  rowsJsonBytes: Buffer;
  rowCount: number;
  sequence: bigint | null;
}

interface Learned {
  stmt: Database.Statement;
  columns: string[];
  schemaVersion: number;
  /** Runs in a row over the CPU budget. */
  strikes: number;
}

/**
 * Runs in a row over the budget that send a statement back to the workers. Not one: a garbage
 * collection or a compilation during a run counts as that run's CPU (2 ms seen on a 2-core VM),
 * and it would send a cheap statement away for good. A statement that really costs that much
 * does so every time.
 */
const STRIKES = 3;

/** A text not answered here until `until` (performance.now() ms); then a worker's answer may teach it again. */
interface Refused {
  until: number;
}

/**
 * How long a text stays refused: not for good, so that a client who makes a statement fail here
 * (parameters that do not bind, a large row asked three times) cannot take point reads away from
 * everyone else, and a statement that becomes a point read (an index added by a snapshot) is
 * learned again. Re-learning costs one prepare and one EXPLAIN.
 */
const REFUSED_MS = 60_000;

/** Safe integers bind as INTEGER, booleans as 1/0 (as the workers bind them). */
function bindValue(v: unknown): unknown {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return v;
}

function bindArguments(params: unknown): unknown[] {
  if (Array.isArray(params)) return params.map(bindValue);
  if (params === null || params === undefined) return [];
  return [
    Object.fromEntries(
      Object.entries(params as Record<string, unknown>).map(([k, v]) => [k, bindValue(v)]),
    ),
  ];
}

export class PointReads {
  readonly #db: Database.Database;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #schemaVersion: Database.Statement;
  /** Reads sqlite_schema: run in a transaction, it makes the connection load the current schema. */
  readonly #loadSchema: Database.Statement;
  #cursor: Database.Statement | undefined;
  /** Learned statements, and texts refused (until when), in insertion order. */
  readonly #statements = new Map<string, Learned | Refused>();
  readonly #maxSqlLength: number;
  readonly #maxResultBytes: number;
  readonly #budgetMs: number;
  readonly #maxStatements: number;
  /** Queries answered here since start. */
  answered = 0;

  constructor(databasePath: string, options: PointReadsOptions = {}) {
    this.#maxSqlLength = options.maxSqlLength ?? 512;
    this.#maxResultBytes = options.maxResultBytes ?? 64 * 1024;
    this.#budgetMs = options.budgetMs ?? 2;
    this.#maxStatements = options.maxStatements ?? 1024;
    // timeout 0: never wait for a lock on this thread (a busy replica sends the query to a worker)
    // better-sqlite3 is an optional peer: only point reads need it (the process's own SQLite
    // copy; node:sqlite must not open the replica in a process where better-sqlite3 has it open).
    const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    this.#db = new BetterSqlite3(databasePath, { readonly: true, fileMustExist: true, timeout: 0 });
    this.#begin = this.#db.prepare('BEGIN');
    this.#commit = this.#db.prepare('COMMIT');
    this.#schemaVersion = this.#db.prepare('PRAGMA schema_version').pluck();
    this.#loadSchema = this.#db.prepare('SELECT count(*) FROM sqlite_schema').pluck();
  }

  /** Statements learned now (for tests and metrics). */
  get learned(): number {
    let n = 0;
    for (const s of this.#statements.values()) if ('stmt' in s) n++;
    return n;
  }

  /**
   * After a worker answered `sql` with `params` successfully: learns it when its program is a
   * point read (see the file's comment), else remembers it is not.
   */
  learn(sql: string, params: unknown): void {
    if (sql.length > this.#maxSqlLength) return;
    const known = this.#statements.get(sql);
    if (known !== undefined && ('stmt' in known || known.until > performance.now())) return;
    let learned: Learned | null = null;
    try {
      // In one read transaction, on the schema as it is now: EXPLAIN alone runs no transaction
      // and would list the program for the schema this connection last loaded.
      this.#begin.run();
      try {
        this.#loadSchema.get();
        const stmt = this.#db.prepare(sql);
        if (stmt.reader && stmt.readonly) {
          const program = this.#db.prepare(`EXPLAIN ${sql}`).all(...bindArguments(params)) as {
            opcode: string;
          }[];
          let results = 0;
          let ok = true;
          for (const op of program) {
            if (op.opcode === 'ResultRow') results++;
            if (!POINT_OPCODES.has(op.opcode)) ok = false;
          }
          if (ok && results === 1) {
            stmt.raw(true);
            stmt.safeIntegers(true);
            learned = {
              stmt,
              columns: stmt.columns().map((c) => c.name),
              schemaVersion: Number(this.#schemaVersion.get()),
              strikes: 0,
            };
          }
        }
      } finally {
        if (this.#db.inTransaction) this.#commit.run();
      }
    } catch {
      learned = null;
    }
    this.#remember(sql, learned ?? { until: performance.now() + REFUSED_MS });
  }

  /**
   * Answers a learned statement here; undefined when it must go to a worker (not learned, the
   * replica is behind `minSequence`, over the limits, the schema changed, or any error).
   */
  tryRun(
    sql: string,
    params: unknown,
    minSequence: bigint | undefined,
    maxRows: number,
    maxBytes: number,
  ): PointReadResult | undefined {
    const learned = this.#statements.get(sql);
    if (learned === undefined || !('stmt' in learned)) return undefined;
    const started = performance.now();
    const cpu = process.threadCpuUsage();
    let result: PointReadResult | undefined;
    /** A result too large for this thread: counts as a run over budget. */
    let tooLarge = false;
    try {
      this.#begin.run();
      try {
        if (Number(this.#schemaVersion.get()) !== learned.schemaVersion) {
          // The schema changed (a snapshot): learn it again from a worker's answer.
          this.#statements.delete(sql);
          return undefined;
        }
        const sequence = this.#readCursor();
        if (minSequence !== undefined && (sequence === null || sequence < minSequence)) {
          return undefined;
        }
        const rows = learned.stmt.all(...bindArguments(params)) as unknown[][];
        if (rows.length > maxRows) return undefined;
        const limit = Math.min(maxBytes, this.#maxResultBytes);
        let json = '[';
        for (let r = 0; r < rows.length; r++) {
          const row = rows[r] as Parameters<typeof valueJson>[0][];
          json += r === 0 ? '[' : ',[';
          for (let i = 0; i < row.length; i++) {
            json += (i === 0 ? '' : ',') + valueJson(row[i] ?? null);
            if (json.length > limit) break;
          }
          json += ']';
          if (json.length > limit) break;
        }
        json += ']';
        const bytes = Buffer.from(json);
        if (bytes.byteLength > limit) {
          tooLarge = true;
          return undefined;
        }
        result = {
          columns: learned.columns,
          rowsJsonBytes: bytes,
          rowCount: rows.length,
          sequence,
        };
      } finally {
        if (this.#db.inTransaction) this.#commit.run();
      }
    } catch {
      // Parameters that do not bind, a locked replica: a worker answers this one (with the
      // canonical error, if any); the statement stays.
      return undefined;
    } finally {
      if (!tooLarge && !this.#overBudget(started, cpu)) learned.strikes = 0;
      else if (++learned.strikes >= STRIKES) {
        this.#statements.set(sql, { until: performance.now() + REFUSED_MS });
      }
    }
    this.answered++;
    return result;
  }

  /**
   * Whether a run used more than the budget of this thread's CPU. Wall time alone would count
   * the time this thread was preempted on a busy machine: one preemption would send a cheap
   * statement back to the workers for good.
   */
  #overBudget(started: number, cpu: NodeJS.CpuUsage): boolean {
    if (performance.now() - started <= this.#budgetMs) return false;
    const used = process.threadCpuUsage(cpu);
    return (used.user + used.system) / 1000 >= this.#budgetMs;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }

  #readCursor(): bigint | null {
    try {
      this.#cursor ??= this.#db
        .prepare('SELECT last_sequence FROM _synddb_cursor WHERE id = 1')
        .pluck()
        .safeIntegers(true);
      const value = this.#cursor.get() as bigint | undefined;
      return value === undefined ? null : BigInt(value);
    } catch (error) {
      if (/no such table/.test(String(error))) return null;
      throw error;
    }
  }

  #remember(sql: string, learned: Learned | Refused): void {
    this.#statements.delete(sql);
    if (this.#statements.size >= this.#maxStatements) {
      const oldest = this.#statements.keys().next();
      if (!oldest.done) this.#statements.delete(oldest.value);
    }
    this.#statements.set(sql, learned);
  }
}
