import { SyndDBError } from '@synddb/protocol';
import { HttpStatusError, HttpTransportError } from '../errors';
import { fullJitterDelay, sleep } from './backoff';

/** Statuses that mean "the sequencer or a proxy in front of it is briefly unavailable". */
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

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
}

/**
 * GET with a per-attempt timeout (covering headers and body), bounded body size and retries with
 * full-jitter backoff. Retried: transport failures (connect, reset, truncated body), timeouts and
 * 502/503/504. Not retried: other statuses (`HttpStatusError`), oversized bodies, caller aborts.
 * Returns null on 404.
 */
export async function httpGet(
  request: HttpGetRequest,
  settings: HttpGetSettings,
): Promise<Uint8Array | null> {
  const { url, signal } = request;
  let lastError: unknown;
  let lastTimedOut = false;
  let lastStatus: number | undefined;
  for (let attempt = 0; attempt <= settings.maxRetries; attempt++) {
    if (attempt > 0) {
      await sleep(
        fullJitterDelay(
          attempt - 1,
          settings.retryBaseDelayMs,
          settings.retryMaxDelayMs,
          settings.random,
        ),
        signal,
      );
    }
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const response = await settings.fetch(url, {
        signal: combined,
        headers: { accept: request.accept },
      });
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      if (RETRYABLE_STATUSES.has(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        lastStatus = response.status;
        lastError = undefined;
        continue;
      }
      if (!response.ok) {
        throw new HttpStatusError(url, response.status, await readSnippet(response));
      }
      return await readBody(response, request);
    } catch (error) {
      if (error instanceof SyndDBError) throw error;
      if (signal?.aborted) throw signal.reason;
      lastStatus = undefined;
      lastError = error;
      lastTimedOut = timeout.aborted;
    }
  }
  const attempts = settings.maxRetries + 1;
  if (lastStatus !== undefined)
    throw new HttpStatusError(url, lastStatus, `still failing after ${attempts} attempts`);
  throw new HttpTransportError(url, attempts, lastTimedOut, lastError);
}

async function readBody(response: Response, request: HttpGetRequest): Promise<Uint8Array> {
  const announced = response.headers.get('content-length');
  if (announced !== null) {
    const size = Number(announced);
    if (Number.isFinite(size) && size > request.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw request.tooLarge(size);
    }
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
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
    chunks.push(value);
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
