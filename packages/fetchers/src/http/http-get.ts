import { SyndDBError } from '@synddb/protocol';
import { HttpStatusError, HttpTransportError } from '../errors';
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
export async function httpGet(
  request: HttpGetRequest,
  settings: HttpGetSettings,
): Promise<Uint8Array | null> {
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
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const headers = new Headers(request.headers ? await request.headers() : undefined);
      headers.set('accept', request.accept);
      const response = await settings.fetch(url, { signal: combined, headers });
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
      const body = await readBody(response, request);
      if (request.verify !== undefined) {
        try {
          request.verify(body, response);
        } catch (cause) {
          throw new VerifyFailure(cause);
        }
      }
      return body;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SyndDBError) throw error;
      lastStatus = undefined;
      lastError = error instanceof VerifyFailure ? error.cause : error;
      lastTimedOut = timeout.aborted;
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
