import { SyndDBError } from '@synddb/protocol';
import { FetcherConfigError, HttpStatusError, HttpTransportError } from '../errors';
import { checkIntegerOption } from '../limits';
import { fullJitterDelay, sleep } from './backoff';
import { parseRetryAfter } from './retry-after';

/**
 * Statuses that mean "briefly unavailable or overloaded" (the server, GCS, or a proxy in front of
 * either): request timeout, too many requests and 5xx other than 501/505.
 */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export interface HttpGetSettings {
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  random: () => number;
}

/** The transport and retry options of the fetchers that use HTTP (HTTP API, GCS). */
export interface HttpTransportOptions {
  /** Per-attempt timeout (headers and body) of every request, ms. Default 30000. */
  timeoutMs?: number;
  /** Retries after the first attempt, for transport errors, timeouts and 408/429/5xx. Default 3. */
  maxRetries?: number;
  /** Backoff base, ms: retry n waits uniform [0, min(max, base * 2^n)), at least Retry-After. Default 100. */
  retryBaseDelayMs?: number;
  /** Backoff ceiling, ms; a longer Retry-After ends the call with `retryAfterMs` set. Default 10000. */
  retryMaxDelayMs?: number;
  /** Injected fetch (tests, proxies). Default: the global fetch (undici). */
  fetch?: typeof globalThis.fetch;
  /** Randomness for the backoff jitter. Default Math.random. */
  random?: () => number;
}

/** Checks the transport options and fills in their defaults (FetcherConfigError when invalid). */
export function resolveHttpTransport(options: HttpTransportOptions): HttpGetSettings {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function')
    throw new FetcherConfigError('no fetch implementation available');
  const retryBaseDelayMs = checkIntegerOption(
    'retryBaseDelayMs',
    options.retryBaseDelayMs ?? 100,
    0,
  );
  return {
    fetch: fetchImpl,
    timeoutMs: checkIntegerOption('timeoutMs', options.timeoutMs ?? 30_000, 1, 2 ** 31 - 1),
    maxRetries: checkIntegerOption('maxRetries', options.maxRetries ?? 3, 0, 100),
    retryBaseDelayMs,
    retryMaxDelayMs: checkIntegerOption(
      'retryMaxDelayMs',
      options.retryMaxDelayMs ?? 10_000,
      retryBaseDelayMs,
    ),
    random: options.random ?? Math.random,
  };
}

export interface HttpGetRequest {
  url: string;
  accept: string;
  /** Largest body accepted; a bigger one (announced or streamed) fails with `tooLarge()`. */
  maxBytes: number;
  tooLarge: (size: number | undefined) => SyndDBError;
  signal?: AbortSignal | undefined;
  /**
   * More request headers, asked for on every attempt (an OAuth token may be refreshed between
   * attempts). What it throws ends the call at once, without a retry.
   */
  headers?: () => Promise<Headers | Record<string, string>>;
  /**
   * Checks a complete body against the response (e.g. a checksum header). What it throws counts
   * as a failed attempt, like a truncated body, and is retried.
   */
  verify?: (body: Uint8Array, response: Response) => void;
}

/**
 * The one GET every network fetcher uses (the sequencer's HTTP API and GCS), so that both fail and
 * retry the same way:
 *
 * - each attempt has a timeout covering the headers and the whole body (a stalled or trickling
 *   body is aborted, which closes its connection);
 * - retried, with full-jitter exponential backoff: transport failures (refused, reset, truncated
 *   body, failed `verify`), timeouts and 408/429/500/502/503/504;
 * - a Retry-After on a retried status is honoured: the next attempt waits at least that long, and
 *   when it exceeds `retryMaxDelayMs` the call stops at once with an `HttpStatusError` carrying
 *   `retryAfterMs`, leaving the long wait to the caller (the sync engine caps it);
 * - not retried: other statuses (`HttpStatusError`), oversized bodies, caller aborts (rejects
 *   with the signal's reason).
 *
 * Returns null on 404.
 */
export function httpGet(
  request: HttpGetRequest,
  settings: HttpGetSettings,
): Promise<Uint8Array | null> {
  return withRetries(request, settings, async (response) => {
    const body = await readBody(response, request);
    if (request.verify !== undefined) {
      try {
        request.verify(body, response);
      } catch (cause) {
        throw new VerifyFailure(cause);
      }
    }
    return body;
  });
}

/** A response body as it arrives (`httpOpen`). */
export interface HttpBodyStream {
  /** Content-Length, when the server sent one. */
  size: number | undefined;
  /**
   * The body's chunks. Ends with `HttpTransportError` when the transfer fails or stalls for the
   * timeout, and with `tooLarge` past `maxBytes`. Stopping early (break) releases the connection.
   */
  body: AsyncIterable<Uint8Array>;
}

/**
 * `httpGet` for bodies too large to hold (a snapshot's batch): the same request, statuses and
 * retries up to the response headers, then the body as a stream of chunks. The timeout covers
 * the headers, then each wait for the next chunk (a stalled body is cut, however long the whole
 * transfer takes). A failure after the headers is not retried here: it ends the stream, and the
 * caller retries. `verify`, when given, runs over the chunks as they pass and on the complete body
 * (`verify.end`), and what it throws ends the stream.
 */
export function httpOpen(
  request: Omit<HttpGetRequest, 'verify'> & { verify?: StreamVerifier },
  settings: HttpGetSettings,
): Promise<HttpBodyStream | null> {
  return withRetries(request, settings, async (response, attempt) => {
    const size = announcedSize(response);
    if (size !== undefined && size > request.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw request.tooLarge(size);
    }
    const check = request.verify?.(response);
    attempt.keep();
    return { size, body: streamBody(response, request, attempt, check) };
  });
}

/** Checks a streamed body: `update` per chunk, `end` once complete (throws on a mismatch). */
export type StreamVerifier = (
  response: Response,
) => { update(chunk: Uint8Array): void; end(total: number): void } | undefined;

/**
 * One attempt's abort signal and timer: a timeout over the whole attempt, or, once `touch`ed as
 * chunks arrive, over each wait for the next one.
 */
class Attempt {
  readonly signal: AbortSignal;
  /** The caller keeps the attempt past the retry loop (a streamed body), and disposes it. */
  kept = false;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  private expired = false;

  constructor(
    private readonly timeoutMs: number,
    signal: AbortSignal | undefined,
  ) {
    this.signal = signal
      ? AbortSignal.any([signal, this.controller.signal])
      : this.controller.signal;
    this.timer = this.arm();
  }

  timedOut(): boolean {
    return this.expired;
  }

  /** Restarts the timeout (a chunk arrived). */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = this.arm();
  }

  keep(): void {
    this.kept = true;
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private arm(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new DOMException('the request timed out', 'TimeoutError'));
    }, this.timeoutMs);
    timer.unref();
    return timer;
  }
}

async function withRetries<T>(
  request: Omit<HttpGetRequest, 'verify'>,
  settings: HttpGetSettings,
  onOk: (response: Response, attempt: Attempt) => Promise<T>,
): Promise<T | null> {
  const { url, signal } = request;
  let lastError: unknown;
  let lastTimedOut = false;
  let lastStatus: { status: number; body: string; retryAfterMs: number | undefined } | undefined;
  for (let attempt = 0; attempt <= settings.maxRetries; attempt++) {
    if (attempt > 0) {
      const backoff = fullJitterDelay(
        attempt - 1,
        settings.retryBaseDelayMs,
        settings.retryMaxDelayMs,
        settings.random,
      );
      await sleep(Math.max(backoff, lastStatus?.retryAfterMs ?? 0), signal);
    }
    signal?.throwIfAborted();
    const current = new Attempt(settings.timeoutMs, signal);
    try {
      const headers = new Headers(request.headers ? await request.headers() : undefined);
      headers.set('accept', request.accept);
      const response = await settings.fetch(url, { signal: current.signal, headers });
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      if (RETRYABLE_STATUSES.has(response.status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
        const body = await readSnippet(response);
        if (retryAfterMs !== undefined && retryAfterMs > settings.retryMaxDelayMs) {
          throw new HttpStatusError(url, response.status, body, retryAfterMs);
        }
        lastStatus = { status: response.status, body, retryAfterMs };
        lastError = undefined;
        continue;
      }
      if (!response.ok) {
        throw new HttpStatusError(url, response.status, await readSnippet(response));
      }
      return await onOk(response, current);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SyndDBError) throw error;
      lastStatus = undefined;
      lastError = error instanceof VerifyFailure ? error.cause : error;
      lastTimedOut = current.timedOut();
    } finally {
      if (!current.kept) current.dispose();
    }
  }
  const attempts = settings.maxRetries + 1;
  if (lastStatus !== undefined) {
    throw new HttpStatusError(
      url,
      lastStatus.status,
      `still failing after ${attempts} attempt${attempts === 1 ? '' : 's'}${lastStatus.body ? `: ${lastStatus.body}` : ''}`,
      lastStatus.retryAfterMs,
    );
  }
  throw new HttpTransportError(url, attempts, lastTimedOut, lastError);
}

/** The body of a kept attempt, chunk by chunk, within `maxBytes`; disposes the attempt. */
async function* streamBody(
  response: Response,
  request: Omit<HttpGetRequest, 'verify'>,
  attempt: Attempt,
  check: ReturnType<StreamVerifier>,
): AsyncGenerator<Uint8Array> {
  const reader = response.body?.getReader();
  let total = 0;
  let complete = false;
  try {
    if (reader === undefined) {
      complete = true;
      check?.end(0);
      return;
    }
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        if (request.signal?.aborted) throw request.signal.reason;
        throw new HttpTransportError(request.url, 1, attempt.timedOut(), error);
      }
      if (next.done) break;
      attempt.touch();
      total += next.value.byteLength;
      if (total > request.maxBytes) throw request.tooLarge(total);
      check?.update(next.value);
      yield next.value;
    }
    complete = true;
    check?.end(total);
  } finally {
    attempt.dispose();
    if (!complete) await reader?.cancel().catch(() => undefined);
  }
}

function announcedSize(response: Response): number | undefined {
  const announced = response.headers.get('content-length');
  if (announced === null) return undefined;
  const size = Number(announced);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/** Wraps what `verify` threw, so that even a SyndDBError from it is retried like a bad transfer. */
class VerifyFailure extends Error {
  constructor(cause: unknown) {
    super('response failed verification', { cause });
  }
}

/** Bodies from this size (announced) are read into one preallocated buffer. */
const PREALLOCATE_FROM_BYTES = 1024 * 1024;

async function readBody(response: Response, request: HttpGetRequest): Promise<Uint8Array> {
  const announced = response.headers.get('content-length');
  let size: number | undefined;
  if (announced !== null) {
    size = Number(announced);
    if (Number.isFinite(size) && size > request.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw request.tooLarge(size);
    }
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  // With a Content-Length, the chunks go straight into one buffer of that size: a large batch (a
  // snapshot) is not held twice, as chunks and joined. Its pages become resident only as they
  // are written, so a size announced but never sent costs nothing.
  const into =
    size !== undefined && Number.isSafeInteger(size) && size >= PREALLOCATE_FROM_BYTES
      ? new Uint8Array(size)
      : undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > request.maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw request.tooLarge(total);
    }
    if (into !== undefined && chunks.length === 0 && total <= into.length) {
      into.set(value, total - value.byteLength);
      continue;
    }
    if (into !== undefined && chunks.length === 0) {
      // More than announced: carry on in chunks, the buffer so far as the first.
      chunks.push(into.subarray(0, total - value.byteLength));
    }
    chunks.push(value);
  }
  if (into !== undefined && chunks.length === 0) {
    return total === into.length ? into : into.subarray(0, total);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The first few hundred bytes of an error body, for the error's details; never the whole body. */
async function readSnippet(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  try {
    const { value } = await reader.read();
    return value ? new TextDecoder().decode(value.subarray(0, 300)) : '';
  } catch {
    return '';
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
