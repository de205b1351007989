import type { BatchInfo } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { BatchIndex } from './batch-index';
import { BatchOverlapError, InvalidBatchRangeError } from './errors';
import type { ListBatchesOptions, StorageFetcher } from './types';

const b = (start: number | bigint, end: number | bigint): BatchInfo => ({
  startSequence: BigInt(start),
  endSequence: BigInt(end),
  path: `${start}`,
});

/** A fetcher over an in-memory list that records the `after` it was asked for. */
function listFetcher(list: BatchInfo[]): StorageFetcher & { calls: (BatchInfo | undefined)[] } {
  const calls: (BatchInfo | undefined)[] = [];
  return {
    kind: 'memory',
    calls,
    async listBatches({ after }: ListBatchesOptions = {}) {
      calls.push(after);
      return list.filter((x) => after === undefined || x.startSequence > after.startSequence);
    },
    getBatch: async () => null,
    getMessage: async () => null,
    getLatestSequence: async () => list.at(-1)?.endSequence ?? null,
  };
}

describe('BatchIndex', () => {
  it('builds from batches 0-49 and 50-99 (reference test_validator_batch_index_building)', () => {
    const index = new BatchIndex([b(0, 49), b(50, 99)]);
    expect(index.size).toBe(2);
    expect(index.earliest()?.startSequence).toBe(0n);
    expect(index.latest()?.endSequence).toBe(99n);
    expect(index.find(25n)?.startSequence).toBe(0n);
    expect(index.find(75n)?.startSequence).toBe(50n);
    expect(index.find(100n)).toBeNull();
  });

  it('is empty by default', () => {
    const index = new BatchIndex();
    expect(index.size).toBe(0);
    expect(index.earliest()).toBeNull();
    expect(index.latest()).toBeNull();
    expect(index.find(0n)).toBeNull();
    expect(index.next(0n)).toBeNull();
  });

  it('finds batch boundaries exactly (first, last, single-message batches)', () => {
    const index = new BatchIndex([b(0, 0), b(1, 9), b(10, 10)]);
    expect(index.find(0n)?.endSequence).toBe(0n);
    expect(index.find(1n)?.endSequence).toBe(9n);
    expect(index.find(9n)?.endSequence).toBe(9n);
    expect(index.find(10n)?.startSequence).toBe(10n);
    expect(index.find(11n)).toBeNull();
  });

  it('returns null before the first batch and inside gaps', () => {
    const index = new BatchIndex([b(5, 9), b(20, 29)]);
    expect(index.find(0n)).toBeNull();
    expect(index.find(4n)).toBeNull();
    expect(index.find(10n)).toBeNull();
    expect(index.find(19n)).toBeNull();
    expect(index.find(20n)?.startSequence).toBe(20n);
  });

  it('next() gives the first batch starting after a sequence (gap detection)', () => {
    const index = new BatchIndex([b(5, 9), b(20, 29), b(30, 30)]);
    expect(index.next(0n)?.startSequence).toBe(5n);
    expect(index.next(5n)?.startSequence).toBe(20n);
    expect(index.next(12n)?.startSequence).toBe(20n);
    expect(index.next(29n)?.startSequence).toBe(30n);
    expect(index.next(30n)).toBeNull();
    expect(index.next(1000n)).toBeNull();
  });

  it('sorts unsorted input', () => {
    const index = new BatchIndex([b(20, 29), b(0, 9), b(10, 19)]);
    expect(index.entries().map((e) => e.startSequence)).toEqual([0n, 10n, 20n]);
  });

  it('handles u64 values beyond 2^53 exactly', () => {
    const max = (1n << 64n) - 1n;
    const index = new BatchIndex([b(2n ** 53n, 2n ** 53n + 1n), b(max - 1n, max)]);
    expect(index.find(2n ** 53n + 1n)?.startSequence).toBe(2n ** 53n);
    expect(index.find(2n ** 53n + 2n)).toBeNull();
    expect(index.find(max)?.startSequence).toBe(max - 1n);
  });

  it('rejects duplicate starts with BatchOverlapError', () => {
    expect(() => new BatchIndex([b(0, 9), b(0, 4)])).toThrow(BatchOverlapError);
    try {
      new BatchIndex([b(0, 9), b(0, 9)]);
    } catch (error) {
      expect(error).toBeInstanceOf(BatchOverlapError);
      expect((error as BatchOverlapError).code).toBe('BATCH_OVERLAP');
      expect((error as BatchOverlapError).shortMessage).toContain('share a start');
    }
  });

  it('rejects overlapping ranges (restart re-numbering, docs/protocol.md#restart-renumbering)', () => {
    expect(() => new BatchIndex([b(0, 9), b(5, 14)])).toThrow(/overlap/);
    expect(() => new BatchIndex([b(0, 9), b(9, 9)])).toThrow(BatchOverlapError);
    expect(() => new BatchIndex([b(0, 100), b(10, 20)])).toThrow(BatchOverlapError);
  });

  it('rejects end < start', () => {
    expect(() => new BatchIndex([b(10, 9)])).toThrow(InvalidBatchRangeError);
  });

  it('keeps the old entries when a replacement is invalid', () => {
    const index = new BatchIndex([b(0, 9)]);
    expect(() => index.replace([b(0, 9), b(3, 4)])).toThrow(BatchOverlapError);
    expect(index.entries()).toEqual([b(0, 9)]);
  });

  it('append() adds only batches after the latest known start', () => {
    const index = new BatchIndex([b(0, 9)]);
    expect(index.append([b(0, 9), b(10, 19), b(20, 20)])).toBe(2);
    expect(index.entries().map((e) => e.startSequence)).toEqual([0n, 10n, 20n]);
    // Entries at or before the latest start cannot be judged incrementally and are ignored.
    expect(index.append([b(15, 30), b(20, 20)])).toBe(0);
    expect(index.size).toBe(3);
    expect(() => index.append([b(21, 25), b(22, 30)])).toThrow(BatchOverlapError);
    expect(index.size).toBe(3);
    expect(index.append([b(21, 21)])).toBe(1);
  });

  it('append() detects an appended batch overlapping the latest', () => {
    const index = new BatchIndex([b(0, 9)]);
    expect(() => index.append([b(5, 12)])).toThrow(BatchOverlapError);
    expect(index.size).toBe(1);
  });

  it('refresh() lists everything when empty, then incrementally after the latest', async () => {
    const list = [b(0, 9), b(10, 19)];
    const fetcher = listFetcher(list);
    const index = new BatchIndex();
    expect(await index.refresh(fetcher)).toBe(2);
    expect(fetcher.calls).toEqual([undefined]);
    list.push(b(20, 29));
    expect(await index.refresh(fetcher)).toBe(1);
    expect(fetcher.calls[1]).toEqual(b(10, 19));
    expect(index.latest()?.endSequence).toBe(29n);
    expect(index.find(25n)?.startSequence).toBe(20n);
  });

  it('refresh({ full: true }) replaces the index and sees re-numbered batches', async () => {
    const list = [b(0, 9), b(10, 19)];
    const fetcher = listFetcher(list);
    const index = new BatchIndex();
    await index.refresh(fetcher);
    // A restarted sequencer on GCS publishes from 0 again next to the old objects.
    list.push(b(0, 4));
    expect(await index.refresh(fetcher)).toBe(0); // invisible to an incremental listing
    await expect(index.refresh(fetcher, { full: true })).rejects.toBeInstanceOf(BatchOverlapError);
    expect(index.size).toBe(2);
  });

  it('serializes concurrent refreshes', async () => {
    const list = [b(0, 9)];
    const fetcher = listFetcher(list);
    const index = new BatchIndex();
    const results = await Promise.all([
      index.refresh(fetcher),
      index.refresh(fetcher),
      index.refresh(fetcher),
    ]);
    expect(results).toEqual([1, 0, 0]);
    expect(fetcher.calls).toEqual([undefined, b(0, 9), b(0, 9)]);
  });

  it('a failed refresh does not block later ones', async () => {
    const index = new BatchIndex();
    const failing: StorageFetcher = {
      ...listFetcher([]),
      listBatches: async () => {
        throw new Error('down');
      },
    };
    await expect(index.refresh(failing)).rejects.toThrow('down');
    expect(await index.refresh(listFetcher([b(0, 0)]))).toBe(1);
  });

  it('finds in O(log n): 200k batches, 200k lookups', () => {
    const n = 200_000;
    const entries = Array.from({ length: n }, (_, i) => b(i * 10, i * 10 + 9));
    const index = new BatchIndex(entries);
    const started = performance.now();
    for (let s = 0; s < n; s++) {
      const seq = BigInt(s * 10 + (s % 10));
      if (index.find(seq)?.startSequence !== BigInt(s * 10)) throw new Error(`miss at ${seq}`);
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
