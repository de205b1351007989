import type { BatchInfo } from '@synddb/protocol';
import { BatchOverlapError, InvalidBatchRangeError } from './errors';
import type { StorageFetcher } from './types';

export interface BatchIndexRefreshOptions {
  /**
   * Re-list everything and replace the index (sees removed, overwritten or renumbered objects).
   * Otherwise only batches after the latest known one are listed and appended.
   */
  full?: boolean;
  signal?: AbortSignal;
}

/**
 * The sorted, non-overlapping list of a store's batches. Lookups are binary searches, refreshes
 * are incremental, so nothing here costs O(number of batches) per message.
 *
 * Duplicate starts and overlapping ranges are rejected with `BatchOverlapError` instead of being
 * resolved silently (the reference takes "the last batch with start <= seq", which after a
 * sequencer restart on GCS can be a batch of the previous numbering, docs/protocol.md#restart-renumbering).
 */
export class BatchIndex {
  #entries: BatchInfo[] = [];
  #refreshing: Promise<unknown> = Promise.resolve();

  constructor(entries: Iterable<BatchInfo> = []) {
    this.#entries = validated([...entries]);
  }

  get size(): number {
    return this.#entries.length;
  }

  /** All entries, sorted by start. */
  entries(): readonly BatchInfo[] {
    return this.#entries;
  }

  earliest(): BatchInfo | null {
    return this.#entries[0] ?? null;
  }

  /** The batch with the highest start, which (ranges being disjoint) also has the highest end. */
  latest(): BatchInfo | null {
    return this.#entries[this.#entries.length - 1] ?? null;
  }

  /** The batch whose range contains `sequence`: the last start <= sequence, then sequence <= end. */
  find(sequence: bigint): BatchInfo | null {
    const i = this.#lastStartAtOrBefore(sequence);
    if (i < 0) return null;
    const entry = this.#entries[i]!;
    return sequence <= entry.endSequence ? entry : null;
  }

  /** The first batch starting after `sequence` (for gap detection when `find` misses). */
  next(sequence: bigint): BatchInfo | null {
    return this.#entries[this.#lastStartAtOrBefore(sequence) + 1] ?? null;
  }

  /** Replaces the whole index; the old one stays if the new list is invalid. */
  replace(entries: Iterable<BatchInfo>): void {
    this.#entries = validated([...entries]);
  }

  /**
   * Appends batches that start after the latest known one; entries at or before it are ignored
   * (an incremental listing cannot judge them: a full refresh does). Returns how many were added.
   */
  append(entries: Iterable<BatchInfo>): number {
    const last = this.latest();
    const fresh = [...entries].filter((e) => last === null || e.startSequence > last.startSequence);
    if (fresh.length === 0) return 0;
    const checked = validated(fresh);
    const first = checked[0]!;
    if (last !== null && first.startSequence <= last.endSequence)
      throw new BatchOverlapError(last, first);
    for (const e of checked) this.#entries.push(e);
    return checked.length;
  }

  /**
   * Lists from `fetcher` and updates the index: incrementally (only what follows the latest
   * known batch) unless `full`. Concurrent refreshes run one after another. Returns the number of
   * entries added (incremental) or the new size (full).
   */
  refresh(fetcher: StorageFetcher, options: BatchIndexRefreshOptions = {}): Promise<number> {
    const run = async (): Promise<number> => {
      const signal = options.signal ? { signal: options.signal } : {};
      if (options.full || this.#entries.length === 0) {
        this.replace(await fetcher.listBatches(signal));
        return this.#entries.length;
      }
      const after = this.latest()!;
      return this.append(await fetcher.listBatches({ ...signal, after }));
    };
    const result = this.#refreshing.then(run, run);
    this.#refreshing = result.catch(() => undefined);
    return result;
  }

  /** Index of the last entry with start <= sequence, or -1. */
  #lastStartAtOrBefore(sequence: bigint): number {
    let lo = 0;
    let hi = this.#entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid]!.startSequence <= sequence) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}

/** Sorts by start and rejects inverted ranges, duplicate starts and overlaps. */
function validated(entries: BatchInfo[]): BatchInfo[] {
  for (const e of entries) {
    if (e.endSequence < e.startSequence)
      throw new InvalidBatchRangeError(e.startSequence, e.endSequence, e.path);
  }
  entries.sort((a, b) =>
    a.startSequence < b.startSequence ? -1 : a.startSequence > b.startSequence ? 1 : 0,
  );
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.startSequence <= prev.endSequence) throw new BatchOverlapError(prev, cur);
  }
  return entries;
}
