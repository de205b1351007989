import { HttpApiError } from '../errors';

/**
 * Every way a read query can fail, with its HTTP status and JSON-RPC server error code.
 * Refusals are decided by SQLite's authorizer at prepare time (see query-worker.mjs).
 */
export const QUERY_ERROR_KINDS = {
  /** A write or other state-changing statement (INSERT, DDL, BEGIN, ATTACH, temp objects...). */
  QUERY_READ_ONLY: { status: 403, rpc: -32000 },
  /** A PRAGMA, function or virtual table that is not on the allow list. */
  QUERY_NOT_ALLOWED: { status: 403, rpc: -32000 },
  /** The statement reads an internal `_synddb_*` table (directly, through a view, CTE...). */
  QUERY_INTERNAL_TABLE: { status: 403, rpc: -32000 },
  /** More than one statement in `sql`. */
  QUERY_MULTIPLE_STATEMENTS: { status: 403, rpc: -32000 },
  /** A statement that returns no rows. */
  QUERY_NOT_A_READ: { status: 403, rpc: -32000 },
  /** The statement ran longer than its time limit and was interrupted (or waited too long in the queue). */
  QUERY_TIMEOUT: { status: 504, rpc: -32001 },
  /** The replica did not reach `min_sequence` in time. */
  MIN_SEQUENCE_TIMEOUT: { status: 504, rpc: -32002 },
  /** The result has more rows than allowed. */
  QUERY_ROW_LIMIT: { status: 422, rpc: -32003 },
  /** The result is larger than allowed. */
  QUERY_SIZE_LIMIT: { status: 422, rpc: -32003 },
  /** SQLite rejected the statement (syntax, unknown table or column, runtime error). */
  QUERY_SQL: { status: 400, rpc: -32004 },
  /** Too many queries waiting for a worker. */
  QUERY_BUSY: { status: 503, rpc: -32005 },
  /** No query worker is available (the replica cannot be opened, or the service is closed). */
  QUERY_UNAVAILABLE: { status: 503, rpc: -32005 },
  /** A worker failed unexpectedly. */
  QUERY_INTERNAL: { status: 500, rpc: -32603 },
} as const satisfies Record<string, { status: number; rpc: number }>;

export type QueryErrorCode = keyof typeof QUERY_ERROR_KINDS;

/** A read query failed; `code` says why, `status`/`rpcCode` are the answers on HTTP / JSON-RPC. */
export class QueryError extends HttpApiError {
  override name = 'QueryError';
  override readonly code: QueryErrorCode;
  readonly rpcCode: number;
  /** The replica sequence the statement saw, when it got that far. */
  readonly sequence: bigint | null;

  constructor(
    code: QueryErrorCode,
    message: string,
    options: { sequence?: bigint | null; cause?: unknown } = {},
  ) {
    const kind = QUERY_ERROR_KINDS[code] ?? QUERY_ERROR_KINDS.QUERY_INTERNAL;
    super(kind.status, code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.rpcCode = kind.rpc;
    this.sequence = options.sequence ?? null;
  }
}

export const isQueryErrorCode = (code: string): code is QueryErrorCode =>
  Object.hasOwn(QUERY_ERROR_KINDS, code);
