import { decodeBatchBlob, encodeChangesetBatchRequest } from '@synddb/protocol';
import { onCleanup } from '@synddb/test-support';
import { describe, expect, it, vi } from 'vitest';
import { ANVIL0_KEY, postCbor, startSequencer } from '../test-support';
import { createDevnetSequencer } from './create-devnet-sequencer';

const request = (size: number, id = 'b') =>
  encodeChangesetBatchRequest({
    batchId: id,
    changesets: [{ data: new Uint8Array(size).fill(7), sequence: 0n, timestamp: 0n }],
  });

async function listBatches(
  url: string,
): Promise<{ start_sequence: number; end_sequence: number }[]> {
  return (await (await fetch(`${url}/storage/batches`)).json()) as {
    start_sequence: number;
    end_sequence: number;
  }[];
}

describe('batcher', () => {
  it('flushes every batchMaxMessages messages', async () => {
    const seq = await startSequencer({ batchMaxMessages: 3, flushIntervalMs: 60_000 });
    for (let i = 0; i < 7; i++)
      expect((await postCbor(`${seq.url}/changesets`, request(10))).status).toBe(201);
    expect(await listBatches(seq.url)).toEqual([
      { start_sequence: 0, end_sequence: 2 },
      { start_sequence: 3, end_sequence: 5 },
    ]);
    const stats = (await (await fetch(`${seq.url}/batch/stats`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({
      enabled: true,
      batches_published: 2,
      messages_published: 6,
      pending_messages: 1,
    });
    expect(stats.pending_bytes).toBeGreaterThan(0);
    expect(stats.bytes_published).toBeGreaterThan(0);
    expect(stats.bytes_uncompressed).toBeGreaterThan(0);
    expect(stats.compression_ratio).toBeCloseTo(stats.bytes_uncompressed! / stats.bytes_published!);
  });

  it('flushes by COSE bytes: before a message that would overflow, and a big message alone', async () => {
    // Compressed payloads of zero-filled data stay small; random data does not compress.
    const random = (n: number) =>
      encodeChangesetBatchRequest({
        batchId: 'r',
        changesets: [
          { data: crypto.getRandomValues(new Uint8Array(n)), sequence: 0n, timestamp: 0n },
        ],
      });
    const seq = await startSequencer({
      batchMaxBytes: 2000,
      batchMaxMessages: 100,
      flushIntervalMs: 60_000,
    });
    for (const size of [600, 600, 600, 5000, 100]) {
      expect((await postCbor(`${seq.url}/changesets`, random(size))).status).toBe(201);
    }
    // 3 x ~800 B COSE: the third would cross 2000 -> flush [0,1]; the 5000 B one flushes [2] first,
    // then is over the limit on its own -> [3]; [4] stays pending.
    expect(await listBatches(seq.url)).toEqual([
      { start_sequence: 0, end_sequence: 1 },
      { start_sequence: 2, end_sequence: 2 },
      { start_sequence: 3, end_sequence: 3 },
    ]);
    for (const b of seq.storage.list()) {
      const batch = decodeBatchBlob(b.blob);
      const coseBytes = batch.messages.reduce((n, m) => n + m.length, 0);
      if (batch.messages.length > 1) expect(coseBytes).toBeLessThanOrEqual(2000);
    }
    expect(seq.stats().pendingMessages).toBe(1);
  });

  it('flushes a partial batch flushIntervalMs after its first message, not before', async () => {
    // The batch timer is a plain setTimeout: faked here, and the sequencer driven in-process
    // (no socket), so the test decides when the interval has passed.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onCleanup(() => vi.useRealTimers());
    const seq = createDevnetSequencer({ privateKey: ANVIL0_KEY, flushIntervalMs: 300 });
    onCleanup(() => seq.stop());
    const post = async () => {
      const response = await seq.app.request('/changesets', {
        method: 'POST',
        headers: { 'content-type': 'application/cbor' },
        body: request(10) as Uint8Array<ArrayBuffer>,
      });
      expect(response.status).toBe(201);
    };
    await post();
    vi.advanceTimersByTime(200);
    await post(); // the timer runs from the first message of the batch, not the last
    vi.advanceTimersByTime(99);
    expect(seq.storage.list()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seq.storage.list().map((b) => [b.startSequence, b.endSequence])).toEqual([[0n, 1n]]);
    expect(seq.stats().pendingMessages).toBe(0);
  });

  it('flushes on POST /batch/flush and reports nothing to publish when empty', async () => {
    const seq = await startSequencer({ flushIntervalMs: 60_000, storage: { prefix: 'seq' } });
    const empty = await fetch(`${seq.url}/batch/flush`, { method: 'POST' });
    expect(await empty.json()).toEqual({ published: false });
    await postCbor(`${seq.url}/changesets`, request(10));
    const flushed = (await (
      await fetch(`${seq.url}/batch/flush`, { method: 'POST' })
    ).json()) as Record<string, unknown>;
    expect(flushed).toEqual({
      published: true,
      reference: 'seq/batches/000000000000_000000000000.cbor.zst',
      compressed_bytes: seq.storage.get(0n)!.blob.length,
    });
    const stats = (await (await fetch(`${seq.url}/batch/stats`)).json()) as Record<string, unknown>;
    expect(stats.last_flush_timestamp).toEqual(expect.any(Number));
  });

  it('flushes pending messages on stop', async () => {
    const seq = await startSequencer({ flushIntervalMs: 60_000 });
    await postCbor(`${seq.url}/changesets`, request(10));
    await seq.stop();
    expect(seq.storage.list().map((b) => [b.startSequence, b.endSequence])).toEqual([[0n, 0n]]);
  });

  it('stamps created_at from the clock at flush time', async () => {
    let now = 1_700_000_000_000;
    const seq = await startSequencer({ clock: () => now, flushIntervalMs: 60_000 });
    await postCbor(`${seq.url}/changesets`, request(10));
    now += 7_000;
    seq.flush();
    const batch = decodeBatchBlob(seq.storage.get(0n)!.blob);
    expect(batch.createdAt).toBe(1_700_000_007n);
    expect(batch.parsedMessages[0]!.header.timestamp).toBe(1_700_000_000n);
  });
});
