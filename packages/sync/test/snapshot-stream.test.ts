// The snapshot path that never holds the image (issue 13): large snapshot payloads are moved
// between threads, decompressed as a stream into the file that is swapped in, and every failure
// after the signature check (a payload that does not decode, an image over the cap, a truncated
// payload) leaves the replica exactly as it was, with no temporary file behind, and the engine
// resumes once storage serves a good batch.
import { randomFillSync } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { readDatabaseImage } from '@synddb/devnet';
import type { StorageFetcher } from '@synddb/fetchers';
import {
  type BatchInfo,
  encodeBatchBlob,
  encodeSnapshotRequest,
  MessageType,
  zstdCompress,
} from '@synddb/protocol';
import { tempDir, waitFor } from '@synddb/test-support';
import { createSequencerSigner } from '@synddb/verifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPreparePool, type PreparePool } from '../src/index';
import { startEngine, statusText, waitForSequence } from './support';

const signer = createSequencerSigner(
  'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
);
const other = createSequencerSigner(
  '59c6995e998f97a5a0044966f0945389dc9ec5dc4ea71c0d6d8ad6e0b9a1aab1',
);

/** A real SQLite image: `rows` rows of `blobBytes` random bytes each. */
function makeImage(rows: number, blobBytes: number, tag: string): Uint8Array {
  const db = new DatabaseSync(join(tempDir('synddb-snapshot-stream-'), 'source.db'));
  db.exec('CREATE TABLE docs (id INTEGER PRIMARY KEY, tag TEXT, body BLOB)');
  const insert = db.prepare('INSERT INTO docs VALUES (?, ?, ?)');
  for (let i = 1; i <= rows; i++) insert.run(i, tag, randomFillSync(Buffer.alloc(blobBytes)));
  const image = readDatabaseImage(db);
  db.close();
  return image;
}

/** A batch of one snapshot message whose compressed payload is `payload`, signed by `by`. */
function snapshotBatch(sequence: bigint, payload: Uint8Array, by = signer): Uint8Array {
  const message = by.signMessage({
    sequence,
    timestamp: 1n,
    messageType: MessageType.Snapshot,
    payload,
  });
  return encodeBatchBlob(by.signBatch([message], { createdAt: 1n }));
}

function payloadOf(image: Uint8Array): Uint8Array {
  return zstdCompress(
    encodeSnapshotRequest({
      snapshot: { data: image, timestamp: 1n, sequence: 0n },
      messageId: 'm',
    }),
  );
}

/** Storage in memory; every download is a fresh copy (the engine may move it to a worker). */
function memoryStorage(batches: Map<bigint, Uint8Array>): StorageFetcher {
  const list = (): BatchInfo[] =>
    [...batches.keys()]
      .sort((a, b) => (a < b ? -1 : 1))
      .map((s) => ({ startSequence: s, endSequence: s, path: String(s) }));
  return {
    kind: 'memory',
    listBatches: async (options = {}) =>
      list().filter(
        (b) => options.after === undefined || b.startSequence > options.after.endSequence,
      ),
    getBatch: async (info) => {
      const blob = batches.get(info.startSequence);
      return blob === undefined ? null : blob.slice();
    },
    getMessage: async () => null,
    getLatestSequence: async () => list().at(-1)?.endSequence ?? null,
  };
}

function rows(db: { prepare(sql: string): { all(): unknown[] } }): unknown[] {
  return db.prepare('SELECT id, tag, length(body) AS n FROM docs ORDER BY id').all();
}

function leftovers(path: string): string[] {
  return readdirSync(dirname(path)).filter((name) => name.startsWith('.synddb-snapshot-'));
}

describe('snapshots too large to hold: streamed, and all or nothing', () => {
  let pool: PreparePool;
  // ~3 MiB of random rows: payloads above the 1 MiB from which buffers are moved between threads
  const first = makeImage(12, 1000, 'first');
  const big = makeImage(1500, 2000, 'big');

  beforeAll(async () => {
    pool = createPreparePool({ size: 1 });
    await pool.ready();
  });
  afterAll(async () => {
    await pool.close();
  });

  // A small image (under 1 MiB) is decompressed and decoded in memory and restored without the
  // stream; it must fail the same way, with the same codes, and leave the same nothing behind.
  const small = makeImage(100, 500, 'small');
  for (const [path, image, cap] of [
    ['streamed', big, 2 * 1024 * 1024],
    ['in memory', small, 32 * 1024],
  ] as const) {
    for (const [name, bad, code] of [
      [
        'a payload that does not decode after the image (trailing bytes)',
        () =>
          zstdCompress(
            Buffer.concat([
              encodeSnapshotRequest({
                snapshot: { data: image, timestamp: 1n, sequence: 0n },
                messageId: 'm',
              }),
              Buffer.of(0),
            ]),
          ),
        'CBOR_TRAILING_BYTES',
      ],
      [
        'a payload cut short (signed as it is)',
        () => {
          const p = payloadOf(image);
          return p.subarray(0, p.length - Math.min(1000, p.length >> 2));
        },
        'DECOMPRESSION',
      ],
      [
        'a payload that is not a snapshot request',
        () => zstdCompress(Buffer.from([0xa0])),
        'PAYLOAD_DECODE',
      ],
      ['an image over maxSnapshotBytes', () => payloadOf(image), 'DECOMPRESSION_LIMIT'],
    ] as const) {
      it(`${path}: ${name} leaves the replica untouched, and it resumes`, async () => {
        const batches = new Map([[0n, snapshotBatch(0n, payloadOf(first))]]);
        const { engine, db, path } = startEngine({
          fetcher: memoryStorage(batches),
          pubkey: signer.pubkey,
          preparePool: pool,
          maxSnapshotBytes: code === 'DECOMPRESSION_LIMIT' ? cap : 64 * 1024 * 1024,
        });
        await waitForSequence(engine, 0n);
        const before = rows(db);
        expect(before).toHaveLength(12);

        batches.set(1n, snapshotBatch(1n, bad()));
        await waitFor(() => engine.status().halt !== null, {
          what: () => `a halt (status ${statusText(engine)})`,
        });
        expect(engine.status().halt?.code).toBe(code);
        // stopped, so that no retry is spooling right now
        await engine.stop();
        expect(engine.status().lastSequence).toBe(0n);
        expect(rows(db)).toEqual(before);
        expect(leftovers(path)).toEqual([]);

        if (code === 'DECOMPRESSION_LIMIT') return; // the image itself is too large for this engine
        batches.set(1n, snapshotBatch(1n, payloadOf(image)));
        engine.start();
        await waitForSequence(engine, 1n);
        expect(rows(db)).toHaveLength(image === big ? 1500 : 100);
        await engine.stop(); // the temporary file goes just after the commit
        expect(leftovers(path)).toEqual([]);
      });
    }
  }

  it('a large snapshot with a bad signature is refused before anything is written', async () => {
    const batches = new Map([[0n, snapshotBatch(0n, payloadOf(first))]]);
    const { engine, db, path } = startEngine({
      fetcher: memoryStorage(batches),
      pubkey: signer.pubkey,
      preparePool: pool,
    });
    await waitForSequence(engine, 0n);
    const before = rows(db);
    // signed by a key the replica does not trust
    batches.set(1n, snapshotBatch(1n, payloadOf(big), other));
    await waitFor(() => engine.status().halt !== null, {
      what: () => `a halt (status ${statusText(engine)})`,
    });
    expect(engine.status().halt?.kind).toBe('verification');
    await engine.stop();
    expect(engine.status().lastSequence).toBe(0n);
    expect(rows(db)).toEqual(before);
    expect(leftovers(path)).toEqual([]);
  });

  it('the same large snapshot applies without a prepare pool', async () => {
    const batches = new Map([
      [0n, snapshotBatch(0n, payloadOf(first))],
      [1n, snapshotBatch(1n, payloadOf(big))],
    ]);
    const { engine, db } = startEngine({ fetcher: memoryStorage(batches), pubkey: signer.pubkey });
    await waitForSequence(engine, 1n);
    expect(rows(db)).toHaveLength(1500);
  });
});
