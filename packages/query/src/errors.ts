import { type ErrorKind, SyndDBError } from '@synddb/protocol';

/**
 * Every way a read query can fail: its error kind (`ERROR_KINDS` of `@synddb/protocol`), and the
 * HTTP status and JSON-RPC server error code an API answers it with. Refusals are decided by
 * SQLite's authorizer at prepare time (see read-only-authorizer.ts).
 */
export const QUERY_ERROR_KINDS = {
  /** A write or other state-changing statement (INSERT, DDL, BEGIN, ATTACH, temp objects...). */
  QUERY_READ_ONLY: { kind: 'input', status: 403, rpc: -32000 },
  /** A PRAGMA, function or virtual table that is not on the allow list. */
  QUERY_NOT_ALLOWED: { kind: 'input', status: 403, rpc: -32000 },
  /** The statement reads an internal `_synddb_*` table (directly, through a view, CTE...). */
  QUERY_INTERNAL_TABLE: { kind: 'input', status: 403, rpc: -32000 },
  /** More than one statement in `sql`. */
  QUERY_MULTIPLE_STATEMENTS: { kind: 'input', status: 403, rpc: -32000 },
  /** A statement that returns no rows. */
  QUERY_NOT_A_READ: { kind: 'input', status: 403, rpc: -32000 },
  /** The statement ran longer than its time limit and was interrupted (or waited too long in the queue). */
  QUERY_TIMEOUT: { kind: 'aborted', status: 504, rpc: -32001 },
  /** The replica did not reach `min_sequence` in time. */
  MIN_SEQUENCE_TIMEOUT: { kind: 'aborted', status: 504, rpc: -32002 },
  /** The result has more rows than allowed. */
  QUERY_ROW_LIMIT: { kind: 'input', status: 422, rpc: -32003 },
  /** The result is larger than allowed. */
  QUERY_SIZE_LIMIT: { kind: 'input', status: 422, rpc: -32003 },
  /** SQLite rejected the statement (syntax, unknown table or column, runtime error). */
  QUERY_SQL: { kind: 'input', status: 400, rpc: -32004 },
  /** Too many queries waiting for a worker. */
  QUERY_BUSY: { kind: 'unavailable', status: 503, rpc: -32005 },
  /** This client has too many queries in flight (running, queued or waiting for `min_sequence`). */
  QUERY_CLIENT_BUSY: { kind: 'unavailable', status: 429, rpc: -32005 },
  /** No query worker is available (the replica cannot be opened, or the service is closed). */
  QUERY_UNAVAILABLE: { kind: 'unavailable', status: 503, rpc: -32005 },
  /** A worker failed unexpectedly. */
  QUERY_INTERNAL: { kind: 'internal', status: 500, rpc: -32603 },
} as const satisfies Record<string, { kind: ErrorKind; status: number; rpc: number }>;

export type QueryErrorCode = keyof typeof QUERY_ERROR_KINDS;

export const isQueryErrorCode = (code: string): code is QueryErrorCode =>
  Object.hasOwn(QUERY_ERROR_KINDS, code);

/**
 * A read query failed; `code` says why and `kind` what to do about it (`input`: the query's
 * fault; `aborted`: a time limit; `unavailable`: busy or closed, retry later; `internal`).
 * `status` and `rpcCode` are the answers an HTTP or JSON-RPC API gives for it (the package
 * itself serves nothing).
 */
export class QueryError extends SyndDBError {
  override name = 'QueryError';
  declare readonly code: QueryErrorCode;
  /** HTTP status for this failure (4xx: the query's fault, 5xx: the server's). */
  readonly status: number;
  /** JSON-RPC 2.0 error code for this failure. */
  readonly rpcCode: number;
  /** The replica sequence the statement saw, when it got that far. */
  readonly sequence: bigint | null;

  constructor(
    code: QueryErrorCode,
    message: string,
    options: { sequence?: bigint | null; cause?: unknown } = {},
  ) {
    const kind = QUERY_ERROR_KINDS[code] ?? QUERY_ERROR_KINDS.QUERY_INTERNAL;
    super(code, message, { kind: kind.kind, cause: options.cause });
    this.status = kind.status;
    this.rpcCode = kind.rpc;
    this.sequence = options.sequence ?? null;
  }
}

/** An option of `createQueryService` / `createQueryPool` is out of range. */
export class QueryConfigError extends SyndDBError {
  override name = 'QueryConfigError';
  declare readonly code: 'QUERY_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, details?: string) {
    super('QUERY_CONFIG', shortMessage, { details });
  }
}
