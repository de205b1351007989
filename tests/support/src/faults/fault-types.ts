/**
 * What a request does, as a fault rule sees it. The GCS test server reports `list` (object
 * listing pages), `download` (`alt=media` / `/download/...`), `metadata`, `upload`, `delete`; the
 * HTTP fault proxy in front of a sequencer reports `list` (`/storage/batches`), `download`
 * (`/storage/batches/{start}`), `message` (`/storage/messages/{seq}`), `latest`
 * (`/storage/latest`), `status` (`/status`); anything else is `other`.
 */
export type FaultOperation =
  | 'list'
  | 'download'
  | 'message'
  | 'latest'
  | 'metadata'
  | 'status'
  | 'upload'
  | 'delete'
  | 'other';

/**
 * How a request fails. Every fault is plain JSON, so rules can be passed to another process.
 *
 * - `status`: answer `status` (500, 502, 503, 429, ...) with an error body, and a `Retry-After`
 *   header when `retryAfter` is set (seconds, or an HTTP-date string). The request has no effect.
 * - `reset`: reset the connection (TCP RST) before any response byte.
 * - `hang`: never answer; the connection stays open until the client gives up.
 * - `delay`: answer normally, after `ms` (slow headers).
 * - `reset-mid-body`: send the headers and `afterBytes` of the body (default half), then reset.
 * - `truncate`: send the headers with the full, correct `Content-Length` and `afterBytes` of the
 *   body (default half), then close the connection cleanly (FIN).
 * - `slow-body`: send the whole body, `chunkBytes` (default a twentieth of it) every
 *   `intervalMs` (default 50).
 * - `stall`: send the headers and `afterBytes` of the body (default half), then nothing: the body
 *   never ends.
 *
 * Body faults on an empty body reset the connection after the headers.
 */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: number | string; body?: string }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'delay'; ms: number }
  | { kind: 'reset-mid-body'; afterBytes?: number }
  | { kind: 'truncate'; afterBytes?: number }
  | { kind: 'slow-body'; chunkBytes?: number; intervalMs?: number }
  | { kind: 'stall'; afterBytes?: number };

export type FaultKind = Fault['kind'];

/**
 * One rule: which requests fail, and how. Rules are tried in order; the first that fires wins.
 * Without `times` and `probability`, every matching request fails.
 */
export interface FaultRule {
  /** The operations it applies to: one, several, or `'any'`. */
  on: FaultOperation | readonly FaultOperation[] | 'any';
  /** Only requests whose decoded path contains this string (or matches this RegExp). */
  path?: string | RegExp;
  /** Only these methods (e.g. `GET`). Default: any. */
  method?: string;
  fault: Fault;
  /** Let the first `skip` matching requests through untouched. Default 0. */
  skip?: number;
  /** Fail at most this many matching requests (after `skip`), e.g. "the first 3". Default: no limit. */
  times?: number;
  /** Fail each matching request with this probability (0..1), drawn from the seeded generator. */
  probability?: number;
}

/** What a server asks the injector about one incoming request. */
export interface FaultRequest {
  operation: FaultOperation;
  method: string;
  /** Decoded path, without the query. */
  path: string;
}

/** A fault that was served. */
export interface ServedFault extends FaultRequest {
  /** Index of the rule in the current rule set. */
  rule: number;
  kind: FaultKind;
  /** `Date.now()` when it was chosen. */
  at: number;
}
