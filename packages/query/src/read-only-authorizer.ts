// What a read query may do is decided by SQLite itself, through the authorizer, at prepare time:
// only SELECT, reads of non-internal tables, recursive CTEs, functions other than load_extension,
// and a few schema-introspection PRAGMAs. Everything else (INSERT, UPDATE, DELETE, DDL, temp
// objects and triggers, ATTACH/DETACH, BEGIN/SAVEPOINT, other PRAGMAs) is denied and the prepare
// fails. Reads of `_synddb_*` tables are denied wherever they appear (views, subqueries, CTEs,
// joins): SQLite reports each table a statement reads, by its real name, with the view it came
// through.
import { constants as C } from 'node:sqlite';
import type { QueryErrorCode } from './errors';

/** PRAGMAs that only describe the schema; allowed as statements and as pragma_* table functions. */
export const INTROSPECTION_PRAGMAS: ReadonlySet<string> = new Set([
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
const DENIED_TABLES: ReadonlySet<string> = new Set(['dbstat', 'sqlite_dbpage']);
const DENIED_FUNCTIONS: ReadonlySet<string> = new Set(['load_extension']);

/** Tables the replica keeps for itself (cursor, gaps, outbox), in any letter case. */
export const isInternalTable = (name: string): boolean => name.toLowerCase().startsWith('_synddb_');

/** Why a statement was denied: the SQLite error itself only says "not authorized". */
export interface Denial {
  code: Extract<QueryErrorCode, 'QUERY_READ_ONLY' | 'QUERY_NOT_ALLOWED' | 'QUERY_INTERNAL_TABLE'>;
  message: string;
}

/** The signature of `DatabaseSync#setAuthorizer`'s callback. */
export type AuthorizerCallback = (
  action: number,
  arg1: string | null,
  arg2: string | null,
  dbName: string | null,
  triggerOrView: string | null,
) => number;

export interface ReadOnlyAuthorizer {
  /** Pass to `db.setAuthorizer`. */
  readonly callback: AuthorizerCallback;
  /** Runs `fn` with every action allowed: the worker's own statements (BEGIN, cursor, COMMIT). */
  trusted<T>(fn: () => T): T;
  /** Forgets the previous statement's denial; call before preparing a user statement. */
  reset(): void;
  /** The first denial since `reset()`, if any. */
  readonly denial: Denial | undefined;
}

const ACTION_NAMES = new Map<number, string>(
  Object.entries(C)
    .filter(([k]) => k.startsWith('SQLITE_') && !k.startsWith('SQLITE_CHANGESET'))
    .filter(([k]) => !['SQLITE_OK', 'SQLITE_DENY', 'SQLITE_IGNORE'].includes(k))
    .map(([k, v]) => [v as number, k.slice(7)]),
);

/** The allow list above as an authorizer, with a switch for the worker's own statements. */
export function createReadOnlyAuthorizer(): ReadOnlyAuthorizer {
  let trusted = false;
  let denial: Denial | undefined;

  const deny = (code: Denial['code'], message: string): number => {
    denial ??= { code, message };
    return C.SQLITE_DENY;
  };

  const callback: AuthorizerCallback = (action, arg1, arg2) => {
    if (trusted) return C.SQLITE_OK;
    switch (action) {
      case C.SQLITE_SELECT:
      case C.SQLITE_RECURSIVE:
        return C.SQLITE_OK;
      case C.SQLITE_READ: {
        const table = (arg1 ?? '').toLowerCase();
        if (isInternalTable(table))
          return deny('QUERY_INTERNAL_TABLE', `table ${arg1} is internal`);
        if (DENIED_TABLES.has(table)) return deny('QUERY_NOT_ALLOWED', `${arg1} is not readable`);
        if (table.startsWith('pragma_') && !INTROSPECTION_PRAGMAS.has(table.slice(7))) {
          return deny('QUERY_NOT_ALLOWED', `${arg1} is not allowed`);
        }
        return C.SQLITE_OK;
      }
      case C.SQLITE_FUNCTION:
        if (DENIED_FUNCTIONS.has((arg2 ?? '').toLowerCase())) {
          return deny('QUERY_NOT_ALLOWED', `function ${arg2} is not allowed`);
        }
        return C.SQLITE_OK;
      case C.SQLITE_PRAGMA:
        if (INTROSPECTION_PRAGMAS.has((arg1 ?? '').toLowerCase())) return C.SQLITE_OK;
        return deny('QUERY_NOT_ALLOWED', `PRAGMA ${arg1} is not allowed`);
      default:
        return deny(
          'QUERY_READ_ONLY',
          `only read statements are allowed (${ACTION_NAMES.get(action) ?? action})`,
        );
    }
  };

  return {
    callback,
    trusted(fn) {
      trusted = true;
      try {
        return fn();
      } finally {
        trusted = false;
      }
    },
    reset() {
      denial = undefined;
    },
    get denial() {
      return denial;
    },
  };
}
