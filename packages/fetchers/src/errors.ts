import { SyndDBError, walkErrorChain } from '@synddb/protocol';

/** A fetcher was configured with an invalid option (bad URL, non-positive limit, ...). */
export class FetcherConfigError extends SyndDBError {
  override name = 'FetcherConfigError';
  declare readonly code: 'FETCHER_CONFIG';
  override readonly kind = 'config';

  constructor(shortMessage: string, details?: string) {
    super('FETCHER_CONFIG', shortMessage, { details });
  }
}

/** A batch blob is larger than `maxBatchBytes` (announced by Content-Length/size, or counted while streaming). */
export class BatchTooLargeError extends SyndDBError {
  override name = 'BatchTooLargeError';
  declare readonly code: 'BATCH_TOO_LARGE';
  override readonly kind = 'decode';
  readonly locator: string;
  readonly limit: number;
  /** The announced or counted size when known; a streamed download stops counting at limit + 1. */
  readonly size: number | undefined;

  constructor(locator: string, limit: number, size?: number) {
    super('BATCH_TOO_LARGE', `batch ${locator} exceeds the ${limit}-byte download limit`, {
      details: size === undefined ? `limit=${limit}` : `limit=${limit} size>=${size}`,
    });
    this.locator = locator;
    this.limit = limit;
    this.size = size;
  }
}

/** A JSON response is larger than the fetcher's `maxJsonBytes`. */
export class ResponseTooLargeError extends SyndDBError {
  override name = 'ResponseTooLargeError';
  declare readonly code: 'RESPONSE_TOO_LARGE';
  override readonly kind = 'decode';
  readonly url: string;
  readonly limit: number;

  constructor(url: string, limit: number) {
    super('RESPONSE_TOO_LARGE', `response from ${url} exceeds ${limit} bytes`);
    this.url = url;
    this.limit = limit;
  }
}

/** A storage response parsed but does not have the documented shape (docs/protocol.md#storage). */
export class InvalidResponseError extends SyndDBError {
  override name = 'InvalidResponseError';
  declare readonly code: 'INVALID_RESPONSE';
  override readonly kind = 'storage';
  readonly source: string;

  constructor(
    source: string,
    shortMessage: string,
    options: { details?: string; cause?: unknown } = {},
  ) {
    super('INVALID_RESPONSE', `${source}: ${shortMessage}`, options);
    this.source = source;
  }
}

/**
 * The server answered with a status that is neither success nor 404: at once for a status that is
 * not retried (400, 401, 403, ...), or after the retries for 408/429/5xx. `retryAfterMs` is the
 * server's Retry-After, when it sent one (see `retryAfterOf`).
 */
export class HttpStatusError extends SyndDBError {
  override name = 'HttpStatusError';
  declare readonly code: 'HTTP_STATUS';
  override readonly kind = 'storage';
  readonly url: string;
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(url: string, status: number, body?: string, retryAfterMs?: number) {
    super('HTTP_STATUS', `GET ${url} returned HTTP ${status}`, {
      details:
        [
          body ? `body: ${body}` : '',
          retryAfterMs === undefined ? '' : `retry after ${retryAfterMs} ms`,
        ]
          .filter((part) => part !== '')
          .join('; ') || undefined,
    });
    this.url = url;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The request failed at the transport level (connect, reset, timeout, truncated body) or with a
 * retryable status on every attempt. `attempts` counts the tries made.
 */
export class HttpTransportError extends SyndDBError {
  override name = 'HttpTransportError';
  declare readonly code: 'HTTP_TRANSPORT';
  override readonly kind = 'storage';
  readonly url: string;
  readonly attempts: number;
  readonly timedOut: boolean;

  constructor(url: string, attempts: number, timedOut: boolean, cause: unknown) {
    super(
      'HTTP_TRANSPORT',
      `GET ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}${timedOut ? ' (timeout)' : ''}`,
      { cause },
    );
    this.url = url;
    this.attempts = attempts;
    this.timedOut = timedOut;
  }
}

/**
 * A Google Cloud Storage request failed (other than "object not found"), after the fetcher's own
 * retries when it was retryable. `cause` is the transport's `HttpStatusError` /
 * `HttpTransportError` (or the credentials error).
 */
export class GcsRequestError extends SyndDBError {
  override name = 'GcsRequestError';
  declare readonly code: 'GCS_REQUEST';
  override readonly kind = 'storage';
  readonly operation: string;
  /** The HTTP status of the last attempt, when the server answered with one. */
  readonly status: number | undefined;
  /** The server's Retry-After on the last attempt, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(operation: string, cause: unknown) {
    const status = statusOf(cause);
    super(
      'GCS_REQUEST',
      `GCS ${operation} failed${status === undefined ? '' : ` (HTTP ${status})`}`,
      {
        cause,
      },
    );
    this.operation = operation;
    this.status = status;
    this.retryAfterMs = retryAfterOf(cause);
  }
}

/** Reading the local batch directory failed (other than "file not found"). */
export class FsReadError extends SyndDBError {
  override name = 'FsReadError';
  declare readonly code: 'FS_READ';
  override readonly kind = 'storage';
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super('FS_READ', `cannot read ${path}`, { cause });
    this.path = path;
  }
}

/** Writing a batch file failed. */
export class FsWriteError extends SyndDBError {
  override name = 'FsWriteError';
  declare readonly code: 'FS_WRITE';
  override readonly kind = 'storage';
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super('FS_WRITE', `cannot write ${path}`, { cause });
    this.path = path;
  }
}

/** A batch locator (object name or file name) escapes the batch folder or is not a batch name. */
export class InvalidBatchPathError extends SyndDBError {
  override name = 'InvalidBatchPathError';
  declare readonly code: 'INVALID_BATCH_PATH';
  override readonly kind = 'decode';
  readonly path: string;

  constructor(path: string, reason: string) {
    super('INVALID_BATCH_PATH', `refusing batch path ${JSON.stringify(path)}: ${reason}`);
    this.path = path;
  }
}

/**
 * Two listed batches share a start or overlap (docs/protocol.md#restart-renumbering: a sequencer restarted on GCS or
 * in-memory storage numbers from 0 again). Which one is authentic cannot be decided from the
 * listing, so the index refuses to pick.
 */
export class BatchOverlapError extends SyndDBError {
  override name = 'BatchOverlapError';
  declare readonly code: 'BATCH_OVERLAP';
  override readonly kind = 'decode';
  readonly first: { start: bigint; end: bigint; path: string };
  readonly second: { start: bigint; end: bigint; path: string };

  constructor(
    first: { startSequence: bigint; endSequence: bigint; path: string },
    second: { startSequence: bigint; endSequence: bigint; path: string },
  ) {
    const kind = first.startSequence === second.startSequence ? 'share a start' : 'overlap';
    super(
      'BATCH_OVERLAP',
      `batches [${first.startSequence}, ${first.endSequence}] and [${second.startSequence}, ${second.endSequence}] ${kind}`,
      { details: `paths: ${first.path} | ${second.path}` },
    );
    this.first = { start: first.startSequence, end: first.endSequence, path: first.path };
    this.second = { start: second.startSequence, end: second.endSequence, path: second.path };
  }
}

/** A listing entry has end < start. */
export class InvalidBatchRangeError extends SyndDBError {
  override name = 'InvalidBatchRangeError';
  declare readonly code: 'INVALID_BATCH_RANGE';
  override readonly kind = 'decode';
  readonly start: bigint;
  readonly end: bigint;
  readonly path: string;

  constructor(start: bigint, end: bigint, path: string) {
    super('INVALID_BATCH_RANGE', `batch ${path} has end ${end} < start ${start}`);
    this.start = start;
    this.end = end;
    this.path = path;
  }
}

/**
 * Every source of a fallback fetcher failed, or some failed and the rest reported "absent".
 * `retryAfterMs` is set only when every source asked to wait (the shortest of those waits):
 * a source that did not ask may answer on the next try.
 */
export class FallbackExhaustedError extends SyndDBError {
  override name = 'FallbackExhaustedError';
  declare readonly code: 'FALLBACK_EXHAUSTED';
  override readonly kind = 'storage';
  readonly operation: string;
  readonly errors: readonly { kind: string; error: unknown }[];
  readonly retryAfterMs: number | undefined;

  constructor(operation: string, errors: readonly { kind: string; error: unknown }[]) {
    super('FALLBACK_EXHAUSTED', `${operation}: no source answered`, {
      details: errors
        .map(
          ({ kind, error }) =>
            `${kind}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        )
        .join('; '),
      cause: errors[0]?.error,
    });
    this.operation = operation;
    this.errors = errors;
    const waits = errors.map(({ error }) => retryAfterOf(error));
    this.retryAfterMs =
      waits.length > 0 && waits.every((w) => w !== undefined) ? Math.min(...waits) : undefined;
  }
}

/**
 * How long storage asked the caller to wait before the next attempt (an HTTP Retry-After, in ms),
 * read from a fetcher error or its causes; undefined when it did not ask. The sync engine waits at
 * least this long (within its cap) before retrying.
 */
export function retryAfterOf(error: unknown): number | undefined {
  // An error that has the field decides, even when it is undefined (a fallback whose sources
  // did not all ask to wait); only errors without it defer to their cause.
  const asked = walkErrorChain(
    error,
    (e): e is { retryAfterMs: unknown } =>
      typeof e === 'object' && e !== null && 'retryAfterMs' in e,
  );
  const value = asked?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The HTTP status of an error: ours (`status`) or the GCS client's (`code`). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  for (const key of ['status', 'code'] as const) {
    const value = (error as Record<string, unknown>)[key];
    if (typeof value === 'number' && value >= 100 && value <= 599) return value;
  }
  return undefined;
}
