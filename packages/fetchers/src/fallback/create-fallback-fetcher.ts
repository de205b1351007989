import type { BatchInfo, SignedMessage } from '@synddb/protocol';
import { FallbackExhaustedError, FetcherConfigError } from '../errors';
import type { BatchStream, FetchCallOptions, ListBatchesOptions, StorageFetcher } from '../types';

export interface FallbackFetcherOptions {
  /**
   * After a source fails, it is tried after the healthy ones for this long (ms), so a dead primary
   * does not cost a full timeout-and-retry cycle on every call. 0 keeps the configured order.
   * Default 30000.
   */
  failureCooldownMs?: number;
  /** Clock for the cooldown (tests). Default Date.now. */
  now?: () => number;
  /** Called when a source fails and the next one is tried. */
  onFailover?: (event: { operation: string; kind: string; error: unknown }) => void;
}

/**
 * Tries several stores in order (e.g. GCS primary, sequencer HTTP fallback), per call:
 *
 * - an error fails over to the next source;
 * - `null` ("absent") also tries the next source: one store may lack a batch another has
 *   (a mirror that lags, an archive with holes); `null` is returned only when every source
 *   answered `null`, and `FallbackExhaustedError` is thrown when at least one failed and none
 *   had a value, because absence was then not established;
 * - `listBatches` returns the first successful listing as is (listings are not merged: two
 *   stores' views of one sequencer can disagree after a restart, and the BatchIndex must see one
 *   consistent view).
 *
 * BatchInfo from one source works with the others: every fetcher locates batches by range when
 * the path is not its own.
 */
export function createFallbackFetcher(
  sources: readonly StorageFetcher[],
  options: FallbackFetcherOptions = {},
): StorageFetcher {
  if (sources.length === 0)
    throw new FetcherConfigError('createFallbackFetcher needs at least one source');
  const cooldownMs = options.failureCooldownMs ?? 30_000;
  if (!Number.isFinite(cooldownMs) || cooldownMs < 0) {
    throw new FetcherConfigError(`failureCooldownMs must be >= 0, got ${cooldownMs}`);
  }
  const now = options.now ?? Date.now;
  const failedAt = new Map<StorageFetcher, number>();

  /** Healthy sources in configured order, then those in cooldown (oldest failure first). */
  function ordered(): StorageFetcher[] {
    if (cooldownMs === 0 || failedAt.size === 0) return [...sources];
    const t = now();
    const cooling = (s: StorageFetcher) => {
      const at = failedAt.get(s);
      return at !== undefined && t - at < cooldownMs;
    };
    const healthy = sources.filter((s) => !cooling(s));
    const resting = sources.filter(cooling).sort((a, b) => failedAt.get(a)! - failedAt.get(b)!);
    return [...healthy, ...resting];
  }

  async function firstAnswer<T>(
    operation: string,
    signal: AbortSignal | undefined,
    call: (source: StorageFetcher) => Promise<T | null>,
  ): Promise<T | null> {
    const errors: { kind: string; error: unknown }[] = [];
    for (const source of ordered()) {
      signal?.throwIfAborted();
      try {
        const value = await call(source);
        failedAt.delete(source);
        if (value !== null) return value;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        failedAt.set(source, now());
        errors.push({ kind: source.kind, error });
        options.onFailover?.({ operation, kind: source.kind, error });
      }
    }
    if (errors.length > 0) throw new FallbackExhaustedError(operation, errors);
    return null;
  }

  // Streams come from the sources that can stream; a failure to open one fails over, a failure
  // once bytes flowed ends the stream (the caller retries the batch).
  const openBatch = sources.some((s) => s.openBatch !== undefined)
    ? {
        openBatch(
          info: BatchInfo,
          callOptions: FetchCallOptions & { maxBytes: number },
        ): Promise<BatchStream | null> {
          return firstAnswer(`openBatch(${info.startSequence})`, callOptions.signal, (s) =>
            s.openBatch === undefined ? Promise.resolve(null) : s.openBatch(info, callOptions),
          );
        },
      }
    : {};

  return {
    kind: 'fallback',
    ...openBatch,

    async listBatches(listOptions: ListBatchesOptions = {}): Promise<BatchInfo[]> {
      // A listing is a complete answer even when empty, so the first success wins.
      const result = await firstAnswer('listBatches', listOptions.signal, (s) =>
        s.listBatches(listOptions),
      );
      return result ?? [];
    },

    getBatch(info: BatchInfo, callOptions: FetchCallOptions = {}): Promise<Uint8Array | null> {
      return firstAnswer(`getBatch(${info.startSequence})`, callOptions.signal, (s) =>
        s.getBatch(info, callOptions),
      );
    },

    getMessage(
      sequence: bigint,
      callOptions: FetchCallOptions = {},
    ): Promise<SignedMessage | null> {
      return firstAnswer(`getMessage(${sequence})`, callOptions.signal, (s) =>
        s.getMessage(sequence, callOptions),
      );
    },

    getLatestSequence(callOptions: FetchCallOptions = {}): Promise<bigint | null> {
      return firstAnswer('getLatestSequence', callOptions.signal, (s) =>
        s.getLatestSequence(callOptions),
      );
    },
  };
}
