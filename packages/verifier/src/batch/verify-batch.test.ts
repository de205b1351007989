import {
  type CborBatch,
  decodeBatch,
  decodeBatchBlob,
  decodeCoseSign1,
  encodeCoseSign1,
  messageSigningDigest,
  type SignedBatch,
  SyndDBError,
} from '@synddb/protocol';
import { onCleanup } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/backends';
import { ANVIL0_PUBKEY, flipBit, hex, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import type { Secp256k1Backend } from '../backend/types';
import {
  BatchSignatureError,
  MessageSignatureError,
  NonNormalizedHeaderError,
  SignerMismatchError,
} from '../errors';
import { createVerifierPool, type VerifierPool } from '../pool/create-verifier-pool';
import { createSequencerSigner } from '../signer/create-sequencer-signer';
import type { VerifiedBatch } from './verified-batch';
import { type VerifyBatchOptions, verifyBatch } from './verify-batch';

const anvil0 = createSequencerSigner(wire.keys.anvil0.privkey);
const ones = createSequencerSigner(wire.keys.ones.privkey);

type Mode = readonly [string, Secp256k1Backend, () => VerifierPool | undefined];
const MODES: Mode[] = BACKENDS.flatMap(([name, backend]): Mode[] => [
  [`${name}, single thread`, backend, () => undefined],
  [
    `${name}, worker pool`,
    backend,
    () => {
      const pool = createVerifierPool({ size: 2, backend: name, minItemsPerWorker: 1 });
      onCleanup(() => pool.close());
      return pool;
    },
  ],
]);

function messagesFrom(first: number, count: number, signer = anvil0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    signer.signMessage({
      sequence: BigInt(first + i),
      timestamp: 1_700_000_000n + BigInt(i),
      messageType: (i % 3) as 0 | 1 | 2,
      payload: new TextEncoder().encode(`message ${first + i}`),
    }),
  );
}

/** Error code of a rejected verification (the check that fired). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SyndDBError);
    return (error as SyndDBError).code;
  }
  throw new Error('expected verification to fail');
}

describe.each(MODES)('verifyBatch (%s)', (_label, backend, makePool) => {
  const pool = makePool();
  const options: VerifyBatchOptions = { expectedPubkey: ANVIL0_PUBKEY, backend, pool };
  const run = async (
    batch: CborBatch,
    extra: Partial<VerifyBatchOptions> = {},
  ): Promise<VerifiedBatch> => verifyBatch(batch, { ...options, ...extra });

  it('verifies V2 (one message)', async () => {
    const verified = await run(decodeBatch(hex(wire.v2_batch_single.batch_cbor)));
    expect(verified.startSequence).toBe(42n);
    expect(verified.endSequence).toBe(42n);
    expect(verified.messages.map((m) => m.sequence)).toEqual([42n]);
    expect(verified.signer).toEqual(ANVIL0_PUBKEY);
  });

  it('verifies V3 (three messages)', async () => {
    const verified = await run(decodeBatch(hex(wire.v3_batch_three.batch_cbor)), {
      requireNormalizedHeader: true,
    });
    expect(verified.messages.map((m) => m.sequence)).toEqual([1n, 2n, 3n]);
    expect(verified.messages.map((m) => new TextDecoder().decode(m.payload))).toEqual([
      'payload 0',
      'payload 1',
      'payload 2',
    ]);
  });

  it('verifies the V4 blob after decodeBatchBlob', async () => {
    const verified = await run(decodeBatchBlob(hex(wire.v4_pipeline.batch_cbor_zstd)));
    expect(verified.startSequence).toBe(0n);
    expect(verified.endSequence).toBe(2n);
    expect(verified.createdAt).toBe(1_700_000_200n);
    expect(verified.messages.map((m) => m.messageType)).toEqual([0, 1, 2]);
  });

  it('verifies a 200-message batch', async () => {
    const verified = await run(anvil0.signBatch(messagesFrom(1000, 200), { createdAt: 1 }));
    expect(verified.messages).toHaveLength(200);
    expect(verified.messages[199]!.sequence).toBe(1199n);
  });

  it('rejects a valid batch when another key is expected', async () => {
    const batch = decodeBatch(hex(wire.v3_batch_three.batch_cbor));
    await expect(run(batch, { expectedPubkey: ONES_PUBKEY })).rejects.toThrow(SignerMismatchError);
  });

  it('rejects a batch signed entirely by "ones" when anvil0 is expected', async () => {
    const batch = ones.signBatch(messagesFrom(1, 3, ones), { createdAt: 0 });
    await expect(run(batch)).rejects.toThrow(SignerMismatchError);
    expect((await run(batch, { expectedPubkey: ONES_PUBKEY })).messages).toHaveLength(3);
  });

  it('rejects an empty batch by an untrusted key as a signer mismatch, and by the trusted key as empty', async () => {
    await expect(
      run(ones.signBatch([], { createdAt: 0, startSequence: 0, endSequence: 0 })),
    ).rejects.toThrow(SignerMismatchError);
    expect(
      await codeOf(run(anvil0.signBatch([], { createdAt: 0, startSequence: 0, endSequence: 0 }))),
    ).toBe('BATCH_EMPTY');
  });

  it('rejects a batch signature over other s/e (range bound by the signature)', async () => {
    const batch = anvil0.signBatch(messagesFrom(5, 3), { createdAt: 0 });
    const other = anvil0.signBatch(messagesFrom(5, 3), {
      createdAt: 0,
      startSequence: 4,
      endSequence: 7,
    });
    await expect(run({ ...batch, signature: other.signature })).rejects.toThrow(
      BatchSignatureError,
    );
  });

  it('rejects the high-S twin of the batch signature', async () => {
    const batch = decodeBatch(hex(wire.v2_batch_single.batch_cbor));
    const s = BigInt(`0x${Buffer.from(batch.signature.subarray(32)).toString('hex')}`);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = batch.signature.slice();
    highS.set(hex((n - s).toString(16).padStart(64, '0')), 32);
    await expect(run({ ...batch, signature: highS })).rejects.toThrow(BatchSignatureError);
  });

  it('rejects bit flips in s, e, h, sig and pubkey', async () => {
    const batch = decodeBatch(hex(wire.v3_batch_three.batch_cbor));
    const flipU64 = (v: bigint, bit: number) => v ^ (1n << BigInt(bit));
    for (const bit of [0, 1, 7, 31, 63]) {
      expect(
        await codeOf(run({ ...batch, startSequence: flipU64(batch.startSequence, bit) })),
      ).toMatch(/BATCH_RANGE_MISMATCH|SEQUENCE_NOT_CONTIGUOUS/);
      expect(await codeOf(run({ ...batch, endSequence: flipU64(batch.endSequence, bit) }))).toBe(
        'BATCH_RANGE_MISMATCH',
      );
    }
    for (let bit = 0; bit < 256; bit += 7) {
      expect(await codeOf(run({ ...batch, contentHash: flipBit(batch.contentHash, bit) }))).toBe(
        'CONTENT_HASH_MISMATCH',
      );
    }
    for (let bit = 0; bit < 512; bit += 5) {
      expect(await codeOf(run({ ...batch, signature: flipBit(batch.signature, bit) }))).toBe(
        'BATCH_SIGNATURE_INVALID',
      );
      expect(await codeOf(run({ ...batch, pubkey: flipBit(batch.pubkey, bit) }))).toBe(
        'SIGNER_MISMATCH',
      );
    }
  });

  it('rejects a bit flip in any message even with h and sig recomputed, naming the sequence', async () => {
    const messages = messagesFrom(10, 3);
    for (const index of [0, 1, 2]) {
      const cose = decodeCoseSign1(messages[index]!);
      for (const bit of [0, 100, 511]) {
        const tampered = [...messages];
        tampered[index] = encodeCoseSign1({ ...cose, signature: flipBit(cose.signature, bit) });
        const error = await run(anvil0.signBatch(tampered, { createdAt: 0 })).catch(
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(MessageSignatureError);
        expect((error as MessageSignatureError).sequence).toBe(BigInt(10 + index));
      }
      const payloadFlip = [...messages];
      payloadFlip[index] = encodeCoseSign1({ ...cose, payload: flipBit(cose.payload, 3) });
      await expect(run(anvil0.signBatch(payloadFlip, { createdAt: 0 }))).rejects.toThrow(
        MessageSignatureError,
      );
    }
  });

  it('reports the first bad message when several are bad', async () => {
    const messages = messagesFrom(0, 6);
    for (const index of [4, 2]) {
      const cose = decodeCoseSign1(messages[index]!);
      messages[index] = encodeCoseSign1({ ...cose, signature: flipBit(cose.signature, 200) });
    }
    const error = await run(anvil0.signBatch(messages, { createdAt: 0 })).catch((e: unknown) => e);
    expect((error as MessageSignatureError).sequence).toBe(2n);
  });

  it('rejects a message signed by another key inside a batch signed by the trusted key', async () => {
    const messages = [...messagesFrom(0, 2), ...messagesFrom(2, 1, ones)];
    expect(await codeOf(run(anvil0.signBatch(messages, { createdAt: 0 })))).toBe(
      'BATCH_SIGNER_MISMATCH',
    );
  });

  it('rejects properly signed batches whose sequences have a gap, a duplicate or a reordering', async () => {
    const [a, b, c] = messagesFrom(1, 3) as [Uint8Array, Uint8Array, Uint8Array];
    const gap = messagesFrom(5, 1)[0]!;
    expect(await codeOf(run(anvil0.signBatch([a, b, gap], { createdAt: 0 })))).toBe(
      'SEQUENCE_NOT_CONTIGUOUS',
    );
    expect(await codeOf(run(anvil0.signBatch([a, b, b], { createdAt: 0 })))).toBe(
      'SEQUENCE_NOT_CONTIGUOUS',
    );
    expect(await codeOf(run(anvil0.signBatch([a, c, b], { createdAt: 0 })))).toBe(
      'SEQUENCE_NOT_CONTIGUOUS',
    );
    expect(await codeOf(run(anvil0.signBatch([a, b, c], { createdAt: 0, endSequence: 4 })))).toBe(
      'BATCH_RANGE_MISMATCH',
    );
  });

  it('never trusts hand-built parsedMessages or a stale content hash', async () => {
    const real = decodeBatchBlob(hex(wire.v4_pipeline.batch_cbor_zstd));
    const other = decodeBatch(hex(wire.v3_batch_three.batch_cbor));
    const handBuilt: SignedBatch = {
      ...real,
      parsedMessages: other.messages.map((m) => decodeCoseSign1(m)),
    };
    const verified = await run(handBuilt);
    expect(verified.messages.map((m) => m.sequence)).toEqual([0n, 1n, 2n]);
    expect(verified.messages.map((m) => m.raw)).toEqual(real.messages);
    // Messages swapped for another validly signed set, parsedMessages and h left as they were.
    const swapped: SignedBatch = { ...real, messages: messagesFrom(0, 3) };
    expect(await codeOf(run(swapped))).toBe('CONTENT_HASH_MISMATCH');
  });

  it('applies requireNormalizedHeader to every message', async () => {
    // Message 1 carries a valid, signed, but non-normalized header (sequence label before alg).
    const protectedBytes = hex('a43a000100000101382e3a000100010a3a0001000200');
    const payload = new Uint8Array([1]);
    const odd = encodeCoseSign1({
      protectedBytes,
      pubkey: ANVIL0_PUBKEY,
      payload,
      signature: anvil0.signDigest(messageSigningDigest(protectedBytes, payload)),
    });
    const batch = anvil0.signBatch([messagesFrom(0, 1)[0]!, odd, messagesFrom(2, 1)[0]!], {
      createdAt: 0,
    });
    expect((await run(batch)).messages).toHaveLength(3);
    await expect(run(batch, { requireNormalizedHeader: true })).rejects.toThrow(
      NonNormalizedHeaderError,
    );
  });
});

describe('verifyBatch call shape', () => {
  it('returns synchronously without a pool and a Promise with one', async () => {
    const batch = decodeBatch(hex(wire.v2_batch_single.batch_cbor));
    const sync = verifyBatch(batch, { expectedPubkey: ANVIL0_PUBKEY });
    expect(sync).not.toBeInstanceOf(Promise);
    expect(sync.messages).toHaveLength(1);
    const pool = createVerifierPool({ size: 1 });
    onCleanup(() => pool.close());
    const pending = verifyBatch(batch, { expectedPubkey: ONES_PUBKEY, pool });
    // Even an envelope failure arrives as a rejection, not a synchronous throw.
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toThrow(SignerMismatchError);
  });
});
