// Query worker: a child process (plain JS, no dependencies) that runs read queries on its own
// read-only node:sqlite connection to the replica. It is a process, not a thread, so that a
// statement that runs too long can be interrupted for sure: the parent kills the process
// (a worker thread cannot be terminated while SQLite is inside sqlite3_step).
//
// What may run is decided by SQLite itself, through the authorizer, at prepare time:
// only SELECT, reads of non-internal tables, recursive CTEs, functions other than
// load_extension, and a few schema-introspection PRAGMAs. Everything else (INSERT, UPDATE,
// DELETE, DDL, temp objects and triggers, ATTACH/DETACH, BEGIN/SAVEPOINT, other PRAGMAs) is
// denied and the prepare fails. Reads of `_synddb_*` tables are denied wherever they appear
// (views, subqueries, CTEs, joins): SQLite reports each table a statement reads, by its real
// name, with the view it came through. The connection is also opened read-only and in defensive
// mode, without extension loading.
//
// Protocol (JSON over the IPC channel):
//   parent -> child  {id, sql, params, minSequence, maxRows, maxBytes}
//   child -> parent  {ready: true} once, then per request one of
//     {id, ok: true, columns, rowsJson, rowCount, sequence}
//     {id, ok: false, code, message, sequence}
//     {id, behind: true, sequence}          (the snapshot is older than minSequence)
import { constants as C, DatabaseSync } from 'node:sqlite';

const path = process.argv[2];
const busyTimeoutMs = Number(process.argv[3] ?? 5000);

/** PRAGMAs that only describe the schema; allowed as statements and as pragma_* table functions. */
const INTROSPECTION_PRAGMAS = new Set([
  'table_info',
  'table_xinfo',
  'table_list',
  'index_list',
  'index_info',
  'index_xinfo',
  'foreign_key_list',
  'collation_list',
]);
/** Virtual tables that expose the file's pages rather than rows. */
const DENIED_TABLES = new Set(['dbstat', 'sqlite_dbpage']);
const DENIED_FUNCTIONS = new Set(['load_extension']);

const isInternal = (name) => typeof name === 'string' && name.toLowerCase().startsWith('_synddb_');

let trusted = false;
/** Why the last user statement was denied (the SQLite error only says "not authorized"). */
let denial;

function authorize(action, arg1, arg2, _dbName, _viewOrTrigger) {
  if (trusted) return C.SQLITE_OK;
  switch (action) {
    case C.SQLITE_SELECT:
    case C.SQLITE_RECURSIVE:
      return C.SQLITE_OK;
    case C.SQLITE_READ: {
      const table = String(arg1 ?? '').toLowerCase();
      if (isInternal(table)) {
        denial ??= { code: 'QUERY_INTERNAL_TABLE', message: `table ${arg1} is internal` };
        return C.SQLITE_DENY;
      }
      if (DENIED_TABLES.has(table)) {
        denial ??= { code: 'QUERY_NOT_ALLOWED', message: `${arg1} is not readable` };
        return C.SQLITE_DENY;
      }
      if (table.startsWith('pragma_') && !INTROSPECTION_PRAGMAS.has(table.slice(7))) {
        denial ??= { code: 'QUERY_NOT_ALLOWED', message: `${arg1} is not allowed` };
        return C.SQLITE_DENY;
      }
      return C.SQLITE_OK;
    }
    case C.SQLITE_FUNCTION: {
      if (DENIED_FUNCTIONS.has(String(arg2 ?? '').toLowerCase())) {
        denial ??= { code: 'QUERY_NOT_ALLOWED', message: `function ${arg2} is not allowed` };
        return C.SQLITE_DENY;
      }
      return C.SQLITE_OK;
    }
    case C.SQLITE_PRAGMA: {
      const name = String(arg1 ?? '').toLowerCase();
      if (INTROSPECTION_PRAGMAS.has(name)) return C.SQLITE_OK;
      denial ??= { code: 'QUERY_NOT_ALLOWED', message: `PRAGMA ${arg1} is not allowed` };
      return C.SQLITE_DENY;
    }
    default:
      denial ??= {
        code: 'QUERY_READ_ONLY',
        message: `only read statements are allowed (${ACTION_NAMES.get(action) ?? action})`,
      };
      return C.SQLITE_DENY;
  }
}

const ACTION_NAMES = new Map(
  Object.entries(C)
    .filter(([k]) => k.startsWith('SQLITE_') && !k.startsWith('SQLITE_CHANGESET'))
    .filter(([k]) => !['SQLITE_OK', 'SQLITE_DENY', 'SQLITE_IGNORE'].includes(k))
    .map(([k, v]) => [v, k.slice(7)]),
);

// A parent that went away (EPIPE) ends the worker.
const send = (message) => {
  if (!process.connected) process.exit(0);
  process.send?.(message, undefined, undefined, (error) => {
    if (error) process.exit(0);
  });
};

let db;
try {
  db = new DatabaseSync(path, {
    readOnly: true,
    readBigInts: true,
    allowExtension: false,
    timeout: busyTimeoutMs,
  });
  if (typeof db.setAuthorizer !== 'function') {
    throw new Error(`node:sqlite in Node ${process.version} has no setAuthorizer (need >= 24.10)`);
  }
  if (typeof db.enableDefensive === 'function') db.enableDefensive(true);
  db.setAuthorizer(authorize);
} catch (error) {
  send({ fatal: error instanceof Error ? error.message : String(error) });
  process.exit(3);
}

trusted = true;
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
trusted = false;
let cursorStmt;

/** The replica's last applied sequence, read inside the current transaction (null when none). */
function readCursor() {
  trusted = true;
  try {
    cursorStmt ??= db.prepare('SELECT last_sequence FROM _synddb_cursor WHERE id = 1');
    const row = cursorStmt.get();
    return row === undefined ? null : BigInt(row.last_sequence);
  } catch (error) {
    if (/no such table/.test(String(error?.message))) return null;
    throw error;
  } finally {
    trusted = false;
  }
}

function endTransaction() {
  trusted = true;
  try {
    if (db.isTransaction) commit.run();
  } finally {
    trusted = false;
  }
}

/** Only whitespace, comments and semicolons may follow the one statement. */
function isEmptyTail(tail) {
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
function valueJson(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint':
      return v >= MIN_SAFE && v <= MAX_SAFE ? v.toString() : `"${v}"`;
    case 'number':
      return Number.isFinite(v)
        ? JSON.stringify(v)
        : v > 0
          ? '"Infinity"'
          : v < 0
            ? '"-Infinity"'
            : 'null';
    case 'string':
      return JSON.stringify(v);
    default:
      if (v instanceof Uint8Array)
        return `"0x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
      return JSON.stringify(String(v));
  }
}

function bindValue(v) {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return v;
}

class Refusal extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function runQuery(request) {
  const { sql, params, maxRows, maxBytes } = request;
  const minSequence = request.minSequence === null ? null : BigInt(request.minSequence);
  let sequence = null;
  trusted = true;
  begin.run();
  trusted = false;
  try {
    sequence = readCursor();
    if (minSequence !== null && (sequence === null || sequence < minSequence)) {
      return { id: request.id, behind: true, sequence: sequence?.toString() ?? null };
    }
    denial = undefined;
    let stmt;
    try {
      stmt = db.prepare(sql);
    } catch (error) {
      if (denial !== undefined) throw new Refusal(denial.code, denial.message);
      throw new Refusal('QUERY_SQL', String(error?.message ?? error));
    }
    const source = stmt.sourceSQL;
    if (!sql.startsWith(source) || !isEmptyTail(sql.slice(source.length))) {
      throw new Refusal('QUERY_MULTIPLE_STATEMENTS', 'exactly one statement is allowed');
    }
    const columns = stmt.columns().map((c) => c.name);
    if (columns.length === 0) {
      throw new Refusal('QUERY_NOT_A_READ', 'the statement returns no rows (not a query)');
    }
    stmt.setReturnArrays(true);
    let rowsJson = '[';
    let rowCount = 0;
    let bytes = 2;
    const args = Array.isArray(params)
      ? params.map(bindValue)
      : params === null || params === undefined
        ? []
        : [Object.fromEntries(Object.entries(params).map(([k, v]) => [k, bindValue(v)]))];
    let iterator;
    try {
      iterator = stmt.iterate(...args);
      for (const row of iterator) {
        rowCount++;
        if (rowCount > maxRows) {
          throw new Refusal('QUERY_ROW_LIMIT', `the result has more than ${maxRows} rows`);
        }
        let text = rowCount === 1 ? '[' : ',[';
        for (let i = 0; i < row.length; i++) {
          const v = row[i];
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
      if (denial !== undefined) throw new Refusal(denial.code, denial.message);
      throw new Refusal('QUERY_SQL', String(error?.message ?? error));
    }
    rowsJson += ']';
    return {
      id: request.id,
      ok: true,
      columns,
      rowsJson,
      rowCount,
      sequence: sequence?.toString() ?? null,
    };
  } catch (error) {
    if (error instanceof Refusal) {
      return {
        id: request.id,
        ok: false,
        code: error.code,
        message: error.message,
        sequence: sequence?.toString() ?? null,
      };
    }
    return {
      id: request.id,
      ok: false,
      code: 'QUERY_INTERNAL',
      message: String(error?.message ?? error),
      sequence: null,
    };
  } finally {
    endTransaction();
  }
}

process.on('message', (request) => {
  send(runQuery(request));
});
process.on('disconnect', () => process.exit(0));
send({ ready: true });
