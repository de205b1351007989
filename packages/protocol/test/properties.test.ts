import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeContentHash,
  decodeBatch,
  decodeCbor,
  decodeChangesetBatchRequest,
  decodeCoseSign1,
  decodeProtectedHeader,
  decodeSnapshotRequest,
  decodeWithdrawalRequest,
  encodeBatch,
  encodeCbor,
  encodeChangesetBatchRequest,
  encodeCoseSign1,
  encodeProtectedHeader,
  encodeSnapshotRequest,
  encodeWithdrawalRequest,
  isNormalizedProtectedHeader,
  parseBatch,
  SyndDBError,
  zstdDecompress,
} from '../src/index';
import { message } from './builders';
import { hex, vectors } from './vectors';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (max = 64) => fc.uint8Array({ maxLength: max });
const header = fc.record({
  alg: fc.constant(-47),
  sequence: u64,
  timestamp: u64,
  messageType: fc.constantFrom(0 as const, 1 as const, 2 as const),
});

/** Only typed errors may escape a decoder, never a TypeError/RangeError or a crash. */
function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof SyndDBError)) throw error;
  }
}

describe('round trips', () => {
  it('protected headers', () => {
    fc.assert(
      fc.property(header, (h) => {
        const encoded = encodeProtectedHeader(h);
        expect(decodeProtectedHeader(encoded)).toEqual(h);
        expect(isNormalizedProtectedHeader(encoded)).toBe(true);
      }),
    );
  });

  it('COSE_Sign1', () => {
    fc.assert(
      fc.property(header, bytes(64), bytes(2000), bytes(64), (h, pk, payload, sig) => {
        const pubkey = new Uint8Array(64).map((_, i) => pk[i] ?? i);
        const signature = new Uint8Array(64).map((_, i) => sig[i] ?? 255 - i);
        const raw = encodeCoseSign1({
          protectedBytes: encodeProtectedHeader(h),
          pubkey,
          payload,
          signature,
        });
        const c = decodeCoseSign1(raw);
        expect(c.header).toEqual(h);
        expect(c.payload).toEqual(payload);
        expect(encodeCoseSign1(c)).toEqual(raw);
      }),
    );
  });

  it('batches', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 100n }),
        fc.integer({ min: 1, max: 20 }),
        u64,
        (start, count, createdAt) => {
          const messages = Array.from({ length: count }, (_, i) =>
            message(start + BigInt(i), { timestamp: createdAt }),
          );
          const batch = {
            version: 1,
            startSequence: start,
            endSequence: start + BigInt(count - 1),
            createdAt,
            contentHash: computeContentHash(messages),
            messages,
            signature: new Uint8Array(64).fill(3),
            pubkey: decodeCoseSign1(messages[0]!).pubkey,
          };
          const cbor = encodeBatch(batch);
          const decoded = decodeBatch(cbor);
          expect(encodeBatch(decoded)).toEqual(cbor);
          expect(parseBatch(decoded).parsedMessages).toHaveLength(count);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('payloads', () => {
    const token = fc.option(fc.string(), { nil: undefined });
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.record({ data: bytes(200), sequence: u64, timestamp: u64 }), { maxLength: 5 }),
        token,
        (batchId, changesets, attestationToken) => {
          const req =
            attestationToken === undefined
              ? { batchId, changesets }
              : { batchId, changesets, attestationToken };
          const cbor = encodeChangesetBatchRequest(req);
          expect(decodeChangesetBatchRequest(cbor)).toEqual(req);
          expect(encodeCbor(decodeCbor(cbor))).toEqual(cbor);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        bytes(100),
        (requestId, recipient, amount, data) => {
          const req = { requestId, recipient, amount, data };
          expect(decodeWithdrawalRequest(encodeWithdrawalRequest(req))).toEqual(req);
        },
      ),
    );
    fc.assert(
      fc.property(
        bytes(500),
        u64,
        u64,
        fc.string(),
        token,
        (data, timestamp, sequence, messageId, attestationToken) => {
          const base = { snapshot: { data, timestamp, sequence }, messageId };
          const req = attestationToken === undefined ? base : { ...base, attestationToken };
          expect(decodeSnapshotRequest(encodeSnapshotRequest(req))).toEqual(req);
        },
      ),
    );
  });
});

describe('hostile input never crashes a decoder', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeCbor', (b) => decodeCbor(b)],
    ['decodeCoseSign1', decodeCoseSign1],
    ['decodeProtectedHeader', decodeProtectedHeader],
    ['decodeBatch+parseBatch', (b) => parseBatch(decodeBatch(b))],
    ['decodeChangesetBatchRequest', decodeChangesetBatchRequest],
    ['decodeWithdrawalRequest', decodeWithdrawalRequest],
    ['decodeSnapshotRequest', decodeSnapshotRequest],
    ['zstdDecompress', (b) => zstdDecompress(b, { maxOutputBytes: 1 << 20 })],
    [
      'zstdDecompress js',
      (b) => zstdDecompress(b, { maxOutputBytes: 1 << 20, implementation: 'js' }),
    ],
  ];

  for (const [name, decode] of decoders) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(bytes(300), (b) => onlyTypedErrors(() => decode(b))),
        { numRuns: 500 },
      );
    });
  }

  const seeds: [string, Uint8Array][] = [
    ['COSE V1', hex(vectors.v1_cose_message.cose_sign1)],
    ['batch V4', hex(vectors.v4_pipeline.batch_cbor)],
    ['payload V4 snapshot', hex(vectors.v4_pipeline.messages[2].payload_cbor)],
    ['blob V4', hex(vectors.v4_pipeline.batch_cbor_zstd)],
  ];
  for (const [name, seed] of seeds) {
    it(`mutations of ${name}`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          (edits) => {
            const mutated = seed.slice();
            for (const [at, value] of edits) mutated[at] = value;
            for (const [, decode] of decoders) onlyTypedErrors(() => decode(mutated));
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
