import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import type { ReadOnlyAuthorizer } from './read-only-authorizer';
import type { WorkerRequest, WorkerResult } from './worker-protocol';

/** A connection prepared for reads: the worker's own statements and the authorizer. */
export interface ReadConnection {
  db: DatabaseSync;
  authorizer: ReadOnlyAuthorizer;
  begin: StatementSync;
  commit: StatementSync;
  /** Prepared on first use (the replica may not have the table yet). */
  cursor: StatementSync | undefined;
}

/** Opens the connection's read statements (prepared trusted: the authorizer would deny BEGIN). */
export function readConnection(db: DatabaseSync, authorizer: ReadOnlyAuthorizer): ReadConnection {
  return authorizer.trusted(() => ({
    db,
    authorizer,
    begin: db.prepare('BEGIN'),
    commit: db.prepare('COMMIT'),
    cursor: undefined,
  }));
}

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The replica's last applied sequence, read inside the current transaction (null when none). */
function readCursor(conn: ReadConnection): bigint | null {
  return conn.authorizer.trusted(() => {
    try {
      conn.cursor ??= conn.db.prepare('SELECT last_sequence FROM _synddb_cursor WHERE id = 1');
      const row = conn.cursor.get() as { last_sequence: bigint | number } | undefined;
      return row === undefined ? null : BigInt(row.last_sequence);
    } catch (error) {
      if (/no such table/.test(messageOf(error))) return null;
      throw error;
    }
  });
}

/** Only whitespace, comments and semicolons may follow the one statement. */
export function isEmptyTail(tail: string): boolean {
  let i = 0;
  while (i < tail.length) {
    const ch = tail[i];
    if (ch === ';' || ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f') {
      i++;
    } else if (ch === '-' && tail[i + 1] === '-') {
      const end = tail.indexOf('\n', i);
      i = end < 0 ? tail.length : end + 1;
    } else if (ch === '/' && tail[i + 1] === '*') {
      const end = tail.indexOf('*/', i + 2);
      i = end < 0 ? tail.length : end + 2;
    } else {
      return false;
    }
  }
  return true;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** JSON text of one SQLite value: integers beyond 2^53 as strings, blobs as 0x hex. */
export function valueJson(v: SQLOutputValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v >= MIN_SAFE && v <= MAX_SAFE ? v.toString() : `"${v}"`;
    case 'number':
      if (Number.isFinite(v)) return JSON.stringify(v);
      return v > 0 ? '"Infinity"' : v < 0 ? '"-Infinity"' : 'null';
    case 'string':
      return JSON.stringify(v);
    default:
      return `"0x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
  }
}

/** Safe integers bind as INTEGER (node:sqlite binds every number as REAL), booleans as 1/0. */
function bindValue(v: unknown): SQLInputValue {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return v as SQLInputValue;
}

function bindArguments(params: WorkerRequest['params']): SQLInputValue[] | [object] {
  if (Array.isArray(params)) return params.map(bindValue);
  if (params === null || params === undefined) return [];
  return [Object.fromEntries(Object.entries(params).map(([k, v]) => [k, bindValue(v)]))];
}

/** Prepares the user statement; refusals say why (the authorizer's denial or SQLite's error). */
function prepareUserStatement(conn: ReadConnection, sql: string): StatementSync {
  conn.authorizer.reset();
  let stmt: StatementSync;
  try {
    stmt = conn.db.prepare(sql);
  } catch (error) {
    const denial = conn.authorizer.denial;
    if (denial !== undefined) throw new Refusal(denial.code, denial.message);
    throw new Refusal('QUERY_SQL', messageOf(error));
  }
  // SQLite compiles only the first statement: the rest must be whitespace, comments and `;`.
  const source = stmt.sourceSQL;
  if (!sql.startsWith(source) || !isEmptyTail(sql.slice(source.length))) {
    throw new Refusal('QUERY_MULTIPLE_STATEMENTS', 'exactly one statement is allowed');
  }
  if (stmt.columns().length === 0) {
    throw new Refusal('QUERY_NOT_A_READ', 'the statement returns no rows (not a query)');
  }
  return stmt;
}

/** Memory one result row may take in the worker, at least (see `valueLengthLimit`). */
const MIN_ROW_BUDGET = 64 * 1024 * 1024;

/**
 * SQLITE_LIMIT_LENGTH for a statement with `columns` result columns: SQLite refuses to build any
 * string or blob longer (SQLITE_TOOBIG), intermediate values included (`zeroblob(1e9)`,
 * `randomblob`, `||`, `printf`, `replace`), so an oversized value fails inside SQLite before it
 * is materialized, instead of after the row is built. No single value can be longer than
 * `maxBytes` and still fit a result; and a row of many columns shares a budget of
 * max(4 x maxBytes, 64 MiB), so a row of several huge values cannot either.
 */
export function valueLengthLimit(maxBytes: number, columns: number): number {
  const rowBudget = Math.max(4 * maxBytes, MIN_ROW_BUDGET);
  return Math.max(1024, Math.min(maxBytes, Math.floor(rowBudget / Math.max(1, columns))));
}

const TOO_BIG = /string or blob too big/i;

/** Runs the statement and writes its rows as JSON, refusing results over the limits. */
function collectRows(
  conn: ReadConnection,
  stmt: StatementSync,
  request: WorkerRequest,
): { rowsJson: string; rowCount: number } {
  const { maxRows, maxBytes } = request;
  const lengthLimit = valueLengthLimit(maxBytes, stmt.columns().length);
  stmt.setReturnArrays(true);
  let rowsJson = '[';
  let rowCount = 0;
  let bytes = 2;
  let iterator: Iterator<unknown> | undefined;
  const savedLimit = conn.db.limits.length;
  try {
    conn.db.limits.length = lengthLimit;
    // biome-ignore lint/suspicious/noExplicitAny: node:sqlite's overloads take named or positional values
    iterator = stmt.iterate(...(bindArguments(request.params) as any[]));
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const row = next.value as SQLOutputValue[];
      rowCount++;
      if (rowCount > maxRows) {
        throw new Refusal('QUERY_ROW_LIMIT', `the result has more than ${maxRows} rows`);
      }
      let text = rowCount === 1 ? '[' : ',[';
      for (let i = 0; i < row.length; i++) {
        const v = row[i] ?? null;
        // Refuse huge values before encoding them (hex doubles a blob).
        const size =
          v instanceof Uint8Array ? v.byteLength * 2 : typeof v === 'string' ? v.length : 0;
        if (size + bytes > maxBytes) {
          throw new Refusal('QUERY_SIZE_LIMIT', `the result is larger than ${maxBytes} bytes`);
        }
        text += (i === 0 ? '' : ',') + valueJson(v);
      }
      text += ']';
      rowsJson += text;
      bytes += Buffer.byteLength(text);
      if (bytes > maxBytes) {
        throw new Refusal('QUERY_SIZE_LIMIT', `the result is larger than ${maxBytes} bytes`);
      }
    }
  } catch (error) {
    iterator?.return?.();
    if (error instanceof Refusal) throw error;
    const denial = conn.authorizer.denial;
    if (denial !== undefined) throw new Refusal(denial.code, denial.message);
    if (TOO_BIG.test(messageOf(error))) {
      throw new Refusal(
        'QUERY_SIZE_LIMIT',
        `a value is longer than ${lengthLimit} bytes (the result may hold at most ${maxBytes})`,
      );
    }
    throw new Refusal('QUERY_SQL', messageOf(error));
  } finally {
    conn.db.limits.length = savedLimit;
  }
  return { rowsJson: `${rowsJson}]`, rowCount };
}

/**
 * Runs one read statement in its own read transaction: `BEGIN; cursor; statement; COMMIT`, so the
 * sequence answered is exactly the replica state the rows come from (the engine commits data and
 * cursor together). Never throws: every failure is a result.
 */
export function runRead(conn: ReadConnection, request: WorkerRequest): WorkerResult {
  const minSequence = request.minSequence === null ? null : BigInt(request.minSequence);
  let sequence: bigint | null = null;
  try {
    conn.authorizer.trusted(() => conn.begin.run());
    sequence = readCursor(conn);
    if (minSequence !== null && (sequence === null || sequence < minSequence)) {
      return { behind: true, sequence: sequence?.toString() ?? null };
    }
    const stmt = prepareUserStatement(conn, request.sql);
    const columns = stmt.columns().map((c) => c.name);
    const { rowsJson, rowCount } = collectRows(conn, stmt, request);
    const rows = Buffer.from(rowsJson);
    return { ok: true, columns, rows, rowCount, sequence: sequence?.toString() ?? null };
  } catch (error) {
    if (error instanceof Refusal) {
      return {
        ok: false,
        code: error.code,
        message: error.message,
        sequence: sequence?.toString() ?? null,
      };
    }
    return { ok: false, code: 'QUERY_INTERNAL', message: messageOf(error), sequence: null };
  } finally {
    conn.authorizer.trusted(() => {
      if (conn.db.isTransaction) conn.commit.run();
    });
  }
}
