import { secp256k1 } from '@noble/curves/secp256k1.js';
import { onCleanup } from '@synddb/test-support';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/backends';
import { ANVIL0_PUBKEY, flipBit, hex, wire } from '../../test/wire-format-fixture';
import { VerifierPoolError } from '../errors';
import { createVerifierPool, type SignatureCheck, type VerifierPool } from './create-verifier-pool';

/** A pool closed after the test. */
function pool(options: Parameters<typeof createVerifierPool>[0]): VerifierPool {
  const created = createVerifierPool(options);
  onCleanup(() => created.close());
  return created;
}

const V1: SignatureCheck = {
  signature: hex(wire.v1_cose_message.signature),
  digest: hex(wire.v1_cose_message.keccak256_sig_structure),
  pubkey: ANVIL0_PUBKEY,
};

/** Valid signatures by random keys plus tampered, high-S, garbage and wrongly sized items. */
function mixedItems(count: number): SignatureCheck[] {
  const items: SignatureCheck[] = [];
  for (let i = 0; i < count; i++) {
    const sk = secp256k1.utils.randomSecretKey();
    const digest = crypto.getRandomValues(new Uint8Array(32));
    const valid = {
      signature: secp256k1.sign(digest, sk, { prehash: false }),
      digest,
      pubkey: secp256k1.getPublicKey(sk, false).subarray(1),
    };
    switch (i % 6) {
      case 0:
      case 1:
        items.push(valid);
        break;
      case 2:
        items.push({ ...valid, digest: flipBit(digest, i % 256) });
        break;
      case 3:
        items.push({ ...V1, signature: hex(wire.v1n_high_s.signature_high_s) });
        break;
      case 4:
        items.push({ ...valid, pubkey: ANVIL0_PUBKEY });
        break;
      default:
        items.push({ ...valid, signature: valid.signature.subarray(0, 63 - (i % 2)) });
    }
  }
  return items;
}

describe.each(BACKENDS)('worker pool (%s workers)', (name, backend) => {
  const workers = pool({ size: 2, backend: name, minItemsPerWorker: 8 });

  it('uses the requested backend', () => {
    expect(workers.backend).toBe(name);
    expect(workers.size).toBe(2);
  });

  it('returns exactly what the in-thread backend returns, in input order', async () => {
    const items = mixedItems(120);
    const expected = items.map((i) => backend.verify(i.signature, i.digest, i.pubkey));
    expect(expected.filter(Boolean)).toHaveLength(40);
    expect(await workers.verifyMany(items)).toEqual(expected);
  });

  it('agrees with the backend on random garbage', async () => {
    const garbage = fc.sample(
      fc.record({
        signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
        digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        pubkey: fc.constantFrom(ANVIL0_PUBKEY, new Uint8Array(64)),
      }),
      50,
    );
    const results = await workers.verifyMany([V1, ...garbage]);
    expect(results[0]).toBe(true);
    expect(results.slice(1)).toEqual(
      garbage.map((g) => backend.verify(g.signature, g.digest, g.pubkey)),
    );
  });

  it('handles empty input and concurrent calls', async () => {
    expect(await workers.verifyMany([])).toEqual([]);
    const batches = [mixedItems(30), mixedItems(12), [V1]];
    const results = await Promise.all(batches.map((items) => workers.verifyMany(items)));
    results.forEach((result, k) => {
      expect(result).toEqual(
        batches[k]!.map((i) => backend.verify(i.signature, i.digest, i.pubkey)),
      );
    });
  });

  it('does not detach or alter the caller’s buffers', async () => {
    const items = mixedItems(24);
    const before = items.map((i) => [i.signature.slice(), i.digest.slice(), i.pubkey.slice()]);
    await workers.verifyMany(items);
    items.forEach((item, k) => {
      expect([item.signature, item.digest, item.pubkey]).toEqual(before[k]);
    });
  });
});

describe('pool lifecycle', () => {
  it('rejects calls after close, and close is idempotent', async () => {
    const p = createVerifierPool({ size: 1 });
    expect(await p.verifyMany([V1])).toEqual([true]);
    await p.close();
    await p.close();
    await expect(p.verifyMany([V1])).rejects.toThrow(VerifierPoolError);
  });

  it('rejects pending calls when closed mid-flight', async () => {
    const p = createVerifierPool({ size: 1 });
    const rejection = expect(p.verifyMany(mixedItems(300))).rejects.toThrow(VerifierPoolError);
    await p.close();
    await rejection;
  });

  it('rejects with VerifierPoolError when a worker dies, then keeps serving with a replacement', async () => {
    const p = pool({
      size: 1,
      workerUrl: new URL('../../test/exiting-worker.mjs', import.meta.url),
    });
    await expect(p.verifyMany([V1])).rejects.toThrow(/exited with code 3/);
    await expect(p.verifyMany([V1])).rejects.toThrow(VerifierPoolError);
  });

  it('turns a worker error reply into VerifierPoolError', async () => {
    const p = pool({
      size: 1,
      workerUrl: new URL('../../test/replying-worker.mjs', import.meta.url),
    });
    await expect(p.verifyMany([V1])).rejects.toThrow(/refused for the test/);
  });

  it('rejects an invalid size', () => {
    expect(() => createVerifierPool({ size: 0 })).toThrow(VerifierPoolError);
    expect(() => createVerifierPool({ size: 1.5 })).toThrow(VerifierPoolError);
  });
});
