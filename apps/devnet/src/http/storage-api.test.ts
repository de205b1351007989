import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeBatchBlob,
  encodeChangesetBatchRequest,
  encodeSnapshotRequest,
  hexToBytes,
  parseBatchFilename,
  parseSignedMessageJson,
} from '@synddb/protocol';
import { tempDir } from '@synddb/test-support';
import { createSequencerSigner, verifyBatch } from '@synddb/verifier';
import { describe, expect, it } from 'vitest';
import { rebuildBatchBlob } from '../faults/rebuild-batch-blob';
import { ANVIL0_KEY, ANVIL0_PUBKEY, postCbor, startSequencer } from '../test-support';

const PUBKEY = hexToBytes(ANVIL0_PUBKEY)!;
const OTHER_KEY = '11'.repeat(32);

const changeset = (i: number) =>
  encodeChangesetBatchRequest({
    batchId: `batch-${i}`,
    changesets: [
      { data: new TextEncoder().encode(`data ${i}`), sequence: BigInt(i), timestamp: 1700000000n },
    ],
  });
const snapshot = encodeSnapshotRequest({
  snapshot: {
    data: new TextEncoder().encode('SQLite format 3\0'),
    timestamp: 1700000000n,
    sequence: 999n,
  },
  messageId: 'e2e-snapshot-1',
});

/** A sequencer holding batches [0..2], [3..5], [6..6] (a snapshot at 4). */
async function sequencerWithBatches(options: Parameters<typeof startSequencer>[0] = {}) {
  const seq = await startSequencer({ batchMaxMessages: 3, flushIntervalMs: 60_000, ...options });
  for (let i = 0; i < 7; i++) {
    const body = i === 4 ? snapshot : changeset(i);
    const route = i === 4 ? '/snapshots' : '/changesets';
    expect((await postCbor(`${seq.url}${route}`, body)).status).toBe(201);
  }
  seq.flush();
  return seq;
}

describe('storage API (docs/protocol.md#sequencer-storage-api, e2e cases 7, 9-16)', () => {
  it('lists batches sorted with start/end (case 9) and reports the latest sequence', async () => {
    const seq = await startSequencer();
    expect(await (await fetch(`${seq.url}/storage/batches`)).json()).toEqual([]);
    expect(await (await fetch(`${seq.url}/storage/latest`)).text()).toBe('{"sequence":null}');
    await sequencerWithBatches().then(async (s) => {
      const list = await fetch(`${s.url}/storage/batches`);
      expect(list.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await list.text()).toBe(
        '[{"start_sequence":0,"end_sequence":2},{"start_sequence":3,"end_sequence":5},{"start_sequence":6,"end_sequence":6}]',
      );
      expect(await (await fetch(`${s.url}/storage/latest`)).json()).toEqual({ sequence: 6 });
    });
  });

  it('serves batch blobs that decode and verify (cases 10, 16)', async () => {
    const seq = await sequencerWithBatches();
    const listed = (await (await fetch(`${seq.url}/storage/batches`)).json()) as {
      start_sequence: number;
      end_sequence: number;
    }[];
    for (const { start_sequence, end_sequence } of listed) {
      const response = await fetch(`${seq.url}/storage/batches/${start_sequence}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/cbor+zstd');
      const blob = new Uint8Array(await response.arrayBuffer());
      expect([...blob.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
      const verified = verifyBatch(decodeBatchBlob(blob), {
        expectedPubkey: PUBKEY,
        requireNormalizedHeader: true,
      });
      expect(verified.startSequence).toBe(BigInt(start_sequence));
      expect(verified.endSequence).toBe(BigInt(end_sequence));
      expect(verified.messages.map((m) => m.sequence)).toEqual(
        Array.from({ length: end_sequence - start_sequence + 1 }, (_, i) =>
          BigInt(start_sequence + i),
        ),
      );
    }
  });

  it('serves each message as SignedMessage JSON matching its batch (cases 7, 13, 14, 15)', async () => {
    const seq = await sequencerWithBatches();
    const batch = decodeBatchBlob(seq.storage.get(3n)!.blob);
    for (const cose of batch.parsedMessages) {
      const sequence = Number(cose.header.sequence);
      const response = await fetch(`${seq.url}/storage/messages/${sequence}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      const json = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual([
        'sequence',
        'timestamp',
        'message_type',
        'payload',
        'message_hash',
        'signature',
        'signer',
        'cose_protected_header',
      ]);
      expect(json.message_type).toEqual({ type: sequence === 4 ? 'snapshot' : 'changeset' });
      expect(json.signature).toMatch(/^0x[0-9a-f]{128}$/);
      expect(json.signer).toBe(`0x${ANVIL0_PUBKEY}`);
      expect(json.message_hash).toMatch(/^0x[0-9a-f]{64}$/);
      expect(Array.isArray(json.payload)).toBe(true);
      const parsed = parseSignedMessageJson(text);
      expect(parsed.sequence).toBe(cose.header.sequence);
      expect(parsed.signature).toEqual(cose.signature);
      expect(parsed.payload).toEqual(cose.payload);
      expect(parsed.coseProtectedHeader).toEqual(cose.protectedBytes);
    }
    const first = (await (await fetch(`${seq.url}/storage/messages/0`)).json()) as Record<
      string,
      unknown
    >;
    expect(first.sequence).toBe(0);
    expect((first.cose_protected_header as number[]).length).toBeGreaterThan(0);
  });

  it('answers 404 with an empty body for unknown sequences and starts (cases 11, 12)', async () => {
    const seq = await sequencerWithBatches();
    for (const path of [
      '/storage/messages/1000006',
      '/storage/batches/1000006',
      '/storage/batches/1',
    ]) {
      const response = await fetch(`${seq.url}${path}`);
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('');
    }
  });

  it('answers 400 for non-numeric path segments', async () => {
    const seq = await sequencerWithBatches();
    for (const path of [
      '/storage/batches/abc',
      '/storage/batches/-1',
      '/storage/messages/1x',
      '/storage/batches/18446744073709551616',
    ]) {
      const response = await fetch(`${seq.url}${path}`);
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Invalid URL: Cannot parse/);
    }
    expect((await fetch(`${seq.url}/storage/batches/+3`)).status).toBe(200);
  });

  it('writes every batch as a GCS-layout file with the served bytes', async () => {
    const dir = tempDir('synddb-devnet-storage-');
    const seq = await sequencerWithBatches({ storage: { gcsDirectory: dir, prefix: 'sequencer' } });
    const batchesDir = join(dir, 'sequencer', 'batches');
    expect(seq.batchesDirectory).toBe(batchesDir);
    const names = readdirSync(batchesDir).sort();
    expect(names).toEqual([
      '000000000000_000000000002.cbor.zst',
      '000000000003_000000000005.cbor.zst',
      '000000000006_000000000006.cbor.zst',
    ]);
    for (const name of names) {
      const { start } = parseBatchFilename(name)!;
      expect(new Uint8Array(readFileSync(join(batchesDir, name)))).toEqual(
        seq.storage.get(start)!.blob,
      );
    }
  });
});

describe('storage fault injection', () => {
  it('tampers, hides, replaces and restores, in HTTP and on disk alike', async () => {
    const dir = tempDir('synddb-devnet-storage-');
    const seq = await sequencerWithBatches({ storage: { gcsDirectory: dir } });
    const batchesDir = join(dir, 'sequencer', 'batches');
    const original = seq.storage.get(3n)!.blob;
    const fetchBlob = async (start: number) =>
      new Uint8Array(await (await fetch(`${seq.url}/storage/batches/${start}`)).arrayBuffer());

    // Corrupt one byte.
    seq.storage.tamper(3, (blob) => {
      blob[blob.length - 5]! ^= 0xff;
      return blob;
    });
    const tampered = await fetchBlob(3);
    expect(tampered).not.toEqual(original);
    expect(
      new Uint8Array(readFileSync(join(batchesDir, '000000000003_000000000005.cbor.zst'))),
    ).toEqual(tampered);
    expect(seq.storage.original(3)!.blob).toEqual(original);

    // A gap: hidden from the listing, the fetch and the directory.
    seq.storage.hide(3);
    expect((await fetch(`${seq.url}/storage/batches/3`)).status).toBe(404);
    expect((await fetch(`${seq.url}/storage/messages/4`)).status).toBe(404);
    expect(((await (await fetch(`${seq.url}/storage/batches`)).json()) as unknown[]).length).toBe(
      2,
    );
    expect(readdirSync(batchesDir)).not.toContain('000000000003_000000000005.cbor.zst');
    seq.storage.unhide(3);
    expect(await fetchBlob(3)).toEqual(original);

    // Re-signed by another key, listed with a different end.
    const other = createSequencerSigner(OTHER_KEY);
    const resigned = rebuildBatchBlob(original, { signer: other });
    seq.storage.replace(3, resigned, { endSequence: 9 });
    expect(await (await fetch(`${seq.url}/storage/batches`)).text()).toContain(
      '{"start_sequence":3,"end_sequence":9}',
    );
    expect(readdirSync(batchesDir)).toContain('000000000003_000000000009.cbor.zst');
    expect(readdirSync(batchesDir)).not.toContain('000000000003_000000000005.cbor.zst');
    const served = decodeBatchBlob(await fetchBlob(3));
    expect(served.pubkey).toEqual(other.pubkey);
    expect(() => verifyBatch(served, { expectedPubkey: PUBKEY })).toThrow(
      expect.objectContaining({ code: 'SIGNER_MISMATCH' }),
    );

    // An injected overlapping batch, then everything back to normal.
    seq.storage.inject({ startSequence: 5, endSequence: 6, blob: original });
    expect(((await (await fetch(`${seq.url}/storage/batches`)).json()) as unknown[]).length).toBe(
      4,
    );
    seq.storage.restoreAll();
    expect(await fetchBlob(3)).toEqual(original);
    expect(readdirSync(batchesDir).sort()).toEqual([
      '000000000000_000000000002.cbor.zst',
      '000000000003_000000000005.cbor.zst',
      '000000000006_000000000006.cbor.zst',
    ]);
  });

  it('serves an oversized replacement blob byte for byte', async () => {
    const seq = await sequencerWithBatches();
    const huge = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
    seq.storage.replace(6, huge);
    const response = await fetch(`${seq.url}/storage/batches/6`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(huge);
  });

  it('rejects faults on unknown batches with a typed error', async () => {
    const seq = await sequencerWithBatches();
    expect(() => seq.storage.hide(1)).toThrow(
      expect.objectContaining({ code: 'DEVNET_UNKNOWN_BATCH' }),
    );
    expect(() => seq.storage.restore(42)).toThrow(
      expect.objectContaining({ code: 'DEVNET_UNKNOWN_BATCH' }),
    );
  });

  it('answers 500 JSON for a message of a batch that no longer decodes', async () => {
    const seq = await sequencerWithBatches();
    seq.storage.replace(0, Uint8Array.of(1, 2, 3));
    const response = await fetch(`${seq.url}/storage/messages/1`);
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: string }).error).toMatch(
      /batch 0 cannot be decoded/,
    );
  });
});

describe('rebuildBatchBlob', () => {
  it('builds validly signed batches with reordered or missing messages', async () => {
    const seq = await sequencerWithBatches();
    const original = seq.storage.get(0n)!.blob;
    const signer = createSequencerSigner(ANVIL0_KEY);
    const same = rebuildBatchBlob(original, { signer });
    expect(verifyBatch(decodeBatchBlob(same), { expectedPubkey: PUBKEY }).messages.length).toBe(3);

    const reordered = rebuildBatchBlob(original, {
      signer,
      transform: (m) => [m[1]!, m[0]!, m[2]!],
      startSequence: 0,
      endSequence: 2,
    });
    expect(() => decodeBatchBlob(reordered)).toThrow(
      expect.objectContaining({
        code: expect.stringMatching(/^(BATCH_RANGE_MISMATCH|SEQUENCE_NOT_CONTIGUOUS)$/),
      }),
    );

    const gapped = rebuildBatchBlob(original, { signer, transform: (m) => [m[0]!, m[2]!] });
    expect(() => decodeBatchBlob(gapped)).toThrow(
      expect.objectContaining({
        code: expect.stringMatching(/^(BATCH_RANGE_MISMATCH|SEQUENCE_NOT_CONTIGUOUS)$/),
      }),
    );
  });
});

describe('sequence assignment under concurrency', () => {
  it('assigns contiguous sequences to concurrent POSTs, ordered within and across batches', async () => {
    const seq = await startSequencer({ batchMaxMessages: 7, flushIntervalMs: 60_000 });
    const receipts = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const response = await postCbor(`${seq.url}/changesets`, changeset(i));
        expect(response.status).toBe(201);
        return (await response.json()) as { sequence: number; signature: string };
      }),
    );
    seq.flush();
    expect(receipts.map((r) => r.sequence).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 120 }, (_, i) => i),
    );
    const bySequence = new Map(receipts.map((r) => [r.sequence, r.signature]));
    let next = 0n;
    for (const stored of seq.storage.list()) {
      const verified = verifyBatch(decodeBatchBlob(stored.blob), { expectedPubkey: PUBKEY });
      expect(verified.startSequence).toBe(next);
      for (const m of verified.messages) {
        expect(m.sequence).toBe(next);
        expect(`0x${Buffer.from(m.signature).toString('hex')}`).toBe(bySequence.get(Number(next)));
        next += 1n;
      }
    }
    expect(next).toBe(120n);
  });
});
