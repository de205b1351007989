// Batch decode throughput against the built package (run `pnpm bench`, which builds first).
// Baseline in the same run: raw node:zlib zstd decompression of the same blob.
import { randomBytes } from 'node:crypto';
import { zstdDecompressSync } from 'node:zlib';
import {
  computeContentHash,
  decodeBatchBlob,
  decodePayload,
  encodeBatchBlob,
  encodeChangesetBatchRequest,
  encodeCoseSign1,
  encodeProtectedHeader,
  zstdCompress,
  zstdDecompress,
} from '../dist/index.js';

const MESSAGES = 50;
const pubkey = randomBytes(64);
const signature = randomBytes(64);

/** A changeset-like blob: repetitive row structure with random values, compresses ~3-5x. */
function changesetBytes(size) {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32) {
    out.write('T\x03users\x00\x12\x00\x01', i, 'latin1');
    randomBytes(16).copy(out, i + 16);
  }
  return out;
}

function makeBatch(start) {
  const messages = [];
  for (let i = 0; i < MESSAGES; i++) {
    const seq = start + BigInt(i);
    const size = 1024 + Math.floor(Math.random() * 19 * 1024);
    const payload = zstdCompress(
      encodeChangesetBatchRequest({
        batchId: crypto.randomUUID(),
        changesets: [{ data: changesetBytes(size), sequence: seq, timestamp: 1700000000n }],
      }),
    );
    const protectedBytes = encodeProtectedHeader({
      alg: -47,
      sequence: seq,
      timestamp: 1700000000n,
      messageType: 0,
    });
    messages.push(encodeCoseSign1({ protectedBytes, pubkey, payload, signature }));
  }
  return encodeBatchBlob({
    version: 1,
    startSequence: start,
    endSequence: start + BigInt(MESSAGES - 1),
    createdAt: 1700000000n,
    contentHash: computeContentHash(messages),
    messages,
    signature,
    pubkey,
  });
}

function measure(label, blobs, fn, bytesPerRun) {
  for (const b of blobs.slice(0, 3)) fn(b); // warm-up
  let runs = 0;
  const started = performance.now();
  while (performance.now() - started < 1500) {
    for (const b of blobs) fn(b);
    runs += blobs.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const mbps = (bytesPerRun * runs) / seconds / 1e6;
  console.log(
    `${label.padEnd(46)} ${mbps.toFixed(1).padStart(8)} MB/s  (${(runs / seconds).toFixed(0)} batches/s)`,
  );
  return mbps;
}

const blobs = Array.from({ length: 8 }, (_, i) => makeBatch(BigInt(i * MESSAGES)));
const cborBytes = blobs.reduce((n, b) => n + zstdDecompressSync(b).length, 0) / blobs.length;
const blobBytes = blobs.reduce((n, b) => n + b.length, 0) / blobs.length;
console.log(
  `batches of ${MESSAGES} messages, avg batch CBOR ${(cborBytes / 1024).toFixed(0)} KiB, blob ${(blobBytes / 1024).toFixed(0)} KiB`,
);
console.log('throughput in decompressed batch-CBOR bytes per second:');

const baseline = measure(
  'baseline: node:zlib zstdDecompressSync',
  blobs,
  (b) => zstdDecompressSync(b),
  cborBytes,
);
const decode = measure(
  'decodeBatchBlob (native zstd)',
  blobs,
  (b) => decodeBatchBlob(b),
  cborBytes,
);
measure(
  'zstdDecompress, fzstd fallback (Node < 22.15)',
  blobs,
  (b) => zstdDecompress(b, { implementation: 'js' }),
  cborBytes,
);
const full = measure(
  'decodeBatchBlob + decodePayload x50',
  blobs,
  (b) => {
    for (const m of decodeBatchBlob(b).parsedMessages)
      decodePayload(m.header.messageType, m.payload);
  },
  cborBytes,
);

console.log(`ratio decodeBatchBlob / baseline: ${(decode / baseline).toFixed(2)}x`);
console.log(`ratio with payloads / baseline:  ${(full / baseline).toFixed(2)}x`);
