import { createRequire } from 'node:module';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { batchSigningDigest, messageSigningDigest } from '@synddb/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANVIL0_PUBKEY, flipBit, hex, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import { InvalidPublicKeyError } from '../errors';
import { defaultBackend } from './default-backend';
import { createNativeBackend, isNativeBackendAvailable } from './native-backend';
import { createNobleBackend } from './noble-backend';
import type { Secp256k1Backend } from './types';

const N = secp256k1.Point.Fn.ORDER;
const HALF_N = N >> 1n;
const P = secp256k1.Point.Fp.ORDER;

const native = createNativeBackend();
const noble = createNobleBackend();
const backends: Secp256k1Backend[] = [native, noble];

const V1_DIGEST = hex(wire.v1_cose_message.keccak256_sig_structure);
const V1_SIG = hex(wire.v1_cose_message.signature);
const V1_HIGH_S = hex(wire.v1n_high_s.signature_high_s);

function scalarBytes(value: bigint): Uint8Array {
  return hex(value.toString(16).padStart(64, '0'));
}
function signatureOf(r: bigint, s: bigint): Uint8Array {
  const out = new Uint8Array(64);
  out.set(scalarBytes(r), 0);
  out.set(scalarBytes(s), 32);
  return out;
}
function scalarsOf(signature: Uint8Array): { r: bigint; s: bigint } {
  const view = (o: number) =>
    BigInt(`0x${Buffer.from(signature.subarray(o, o + 32)).toString('hex')}`);
  return { r: view(0), s: view(32) };
}

/** Golden (signature, digest, key) triples that must verify. */
const goldenValid: Array<[string, Uint8Array, Uint8Array]> = [
  ['V1 message', V1_SIG, V1_DIGEST],
  [
    'V2 batch',
    hex(wire.v2_batch_single.batch_signature),
    hex(wire.v2_batch_single.ecdsa_digest_keccak_of_signing_payload),
  ],
  [
    'V4 batch',
    hex(wire.v4_pipeline.batch_signature),
    batchSigningDigest(
      0n,
      2n,
      hex('51548cbfb77f0c20cf2d0f34902a5a0bf8e443a1a40ef0c7e31d03125939d33e'),
    ),
  ],
  ...wire.v4_pipeline.messages.map(
    (m, i) =>
      [
        `V4 message ${i}`,
        hex(m.signature),
        messageSigningDigest(hex(m.protected_header), hex(m.payload_zstd)),
      ] as [string, Uint8Array, Uint8Array],
  ),
];

describe('native backend loading', () => {
  it('loads libsecp256k1 through secp256k1/bindings (not the elliptic fallback)', () => {
    expect(isNativeBackendAvailable()).toBe(true);
    expect(native.name).toBe('native');
    expect(defaultBackend().name).toBe('native');
  });

  it('libsecp256k1 itself rejects the high-S twin (without our pre-check)', () => {
    const addon = createRequire(import.meta.url)('secp256k1/bindings') as {
      ecdsaVerify(s: Uint8Array, d: Uint8Array, k: Uint8Array): boolean;
    };
    const key = new Uint8Array([4, ...ANVIL0_PUBKEY]);
    expect(addon.ecdsaVerify(V1_SIG, V1_DIGEST, key)).toBe(true);
    expect(addon.ecdsaVerify(V1_HIGH_S, V1_DIGEST, key)).toBe(false);
  });

  it('the high-S vector is mathematically valid (noble accepts it only with lowS: false)', () => {
    const key = new Uint8Array([4, ...ANVIL0_PUBKEY]);
    expect(secp256k1.verify(V1_HIGH_S, V1_DIGEST, key, { prehash: false, lowS: false })).toBe(true);
    expect(secp256k1.verify(V1_HIGH_S, V1_DIGEST, key, { prehash: false, lowS: true })).toBe(false);
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('%s backend', (_name, backend) => {
  it.each(goldenValid)('verifies the golden %s signature', (_label, signature, digest) => {
    expect(backend.verify(signature, digest, ANVIL0_PUBKEY)).toBe(true);
    expect(backend.bindPublicKey(ANVIL0_PUBKEY).verify(signature, digest)).toBe(true);
  });

  it('rejects a golden signature under the wrong key', () => {
    expect(backend.verify(V1_SIG, V1_DIGEST, ONES_PUBKEY)).toBe(false);
  });

  it('rejects the high-S vector V1-neg', () => {
    expect(backend.verify(V1_HIGH_S, V1_DIGEST, ANVIL0_PUBKEY)).toBe(false);
    expect(backend.bindPublicKey(ANVIL0_PUBKEY).verify(V1_HIGH_S, V1_DIGEST)).toBe(false);
  });

  const { r, s } = scalarsOf(V1_SIG);
  it.each([
    ['r = 0', signatureOf(0n, s)],
    ['s = 0', signatureOf(r, 0n)],
    ['r = n', signatureOf(N, s)],
    ['s = n', signatureOf(r, N)],
    ['r = n + 1', signatureOf(N + 1n, s)],
    ['s = n/2 + 1', signatureOf(r, HALF_N + 1n)],
    ['r = 2^256 - 1', signatureOf((1n << 256n) - 1n, s)],
    ['all-zero', new Uint8Array(64)],
    ['all-ones', new Uint8Array(64).fill(0xff)],
  ])('rejects %s', (_label, signature) => {
    expect(backend.verify(signature, V1_DIGEST, ANVIL0_PUBKEY)).toBe(false);
  });

  it('rejects wrong lengths of signature, digest and key without throwing', () => {
    expect(backend.verify(V1_SIG.subarray(0, 63), V1_DIGEST, ANVIL0_PUBKEY)).toBe(false);
    expect(backend.verify(new Uint8Array([...V1_SIG, 0]), V1_DIGEST, ANVIL0_PUBKEY)).toBe(false);
    expect(backend.verify(V1_SIG, V1_DIGEST.subarray(0, 31), ANVIL0_PUBKEY)).toBe(false);
    expect(backend.verify(V1_SIG, V1_DIGEST, new Uint8Array([4, ...ANVIL0_PUBKEY]))).toBe(false);
    expect(backend.verify(V1_SIG, V1_DIGEST, ANVIL0_PUBKEY.subarray(0, 33))).toBe(false);
  });

  it('rejects invalid public keys: all-zero, off-curve, coordinate >= p', () => {
    const offCurve = ANVIL0_PUBKEY.slice();
    offCurve[63]! ^= 1;
    const xPlusP = pointWithXAboveP();
    for (const key of [new Uint8Array(64), offCurve, xPlusP]) {
      expect(backend.isValidPublicKey(key)).toBe(false);
      expect(backend.verify(V1_SIG, V1_DIGEST, key)).toBe(false);
      expect(() => backend.bindPublicKey(key)).toThrow(InvalidPublicKeyError);
    }
    expect(() => backend.bindPublicKey(new Uint8Array(65))).toThrow(InvalidPublicKeyError);
    expect(backend.isValidPublicKey(ANVIL0_PUBKEY)).toBe(true);
  });

  it('accepts byte views at non-zero offsets', () => {
    const pool = new Uint8Array(3 + 64 + 32 + 64);
    pool.set(V1_SIG, 3);
    pool.set(V1_DIGEST, 67);
    pool.set(ANVIL0_PUBKEY, 99);
    expect(
      backend.verify(pool.subarray(3, 67), pool.subarray(67, 99), pool.subarray(99, 163)),
    ).toBe(true);
  });

  it('rejects every single-bit flip of signature, digest and key of V1', () => {
    for (let bit = 0; bit < 512; bit++) {
      expect(backend.verify(flipBit(V1_SIG, bit), V1_DIGEST, ANVIL0_PUBKEY)).toBe(false);
      expect(backend.verify(V1_SIG, V1_DIGEST, flipBit(ANVIL0_PUBKEY, bit))).toBe(false);
    }
    for (let bit = 0; bit < 256; bit++) {
      expect(backend.verify(V1_SIG, flipBit(V1_DIGEST, bit), ANVIL0_PUBKEY)).toBe(false);
    }
  });
});

/** A key (x + p, y) where (x, y) is on the curve and x + p < 2^256: same point mod p, invalid encoding. */
function pointWithXAboveP(): Uint8Array {
  for (let x = 1n; ; x++) {
    const y2 = (x ** 3n + 7n) % P;
    const y = modPow(y2, (P + 1n) / 4n, P);
    if ((y * y) % P === y2) {
      const out = new Uint8Array(64);
      out.set(scalarBytes(x + P), 0);
      out.set(scalarBytes(y), 32);
      return out;
    }
  }
}
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

describe('native and noble agree', () => {
  const secretKey = fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .filter((k) => secp256k1.utils.isValidSecretKey(k));
  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('both accept random valid low-S signatures, and both reject their high-S twins and other digests', () => {
    fc.assert(
      fc.property(secretKey, digest, fc.nat(255), (sk, msg, bit) => {
        const pubkey = secp256k1.getPublicKey(sk, false).subarray(1);
        const signature = secp256k1.sign(msg, sk, { prehash: false, lowS: true });
        const { r, s } = scalarsOf(signature);
        const highS = signatureOf(r, N - s);
        for (const b of backends) {
          const bound = b.bindPublicKey(pubkey);
          expect(b.verify(signature, msg, pubkey)).toBe(true);
          expect(bound.verify(signature, msg)).toBe(true);
          expect(b.verify(highS, msg, pubkey)).toBe(false);
          expect(bound.verify(highS, msg)).toBe(false);
          expect(b.verify(signature, flipBit(msg, bit), pubkey)).toBe(false);
          expect(bound.verify(signature, flipBit(msg, bit))).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
    // CPU-bound (each run binds a key per backend, noble's precomputes a table): 13 s at load 7,
    // over 30 s at load 9 (2 cores).
  }, 120_000);

  it('give the same answer on random garbage and on random near-valid mutations', () => {
    const triple = fc.oneof(
      fc.tuple(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
      ),
      fc
        .tuple(fc.nat(511), fc.nat(255))
        .map(([sigBit, digestBit]) => [
          flipBit(V1_SIG, sigBit),
          flipBit(V1_DIGEST, digestBit),
          ANVIL0_PUBKEY,
        ]),
      fc
        .bigInt({ min: 0n, max: (1n << 256n) - 1n })
        .map((s2) => [signatureOf(scalarsOf(V1_SIG).r, s2), V1_DIGEST, ANVIL0_PUBKEY]),
    );
    fc.assert(
      fc.property(triple, ([sig, msg, key]) => {
        const answer = native.verify(sig, msg, key);
        expect(noble.verify(sig, msg, key)).toBe(answer);
        if (noble.isValidPublicKey(key)) {
          // The bound noble verifier uses its own precomputed-table arithmetic: hold it to the same answer.
          expect(noble.bindPublicKey(key).verify(sig, msg)).toBe(answer);
          expect(native.bindPublicKey(key).verify(sig, msg)).toBe(answer);
        }
        expect(native.isValidPublicKey(key)).toBe(noble.isValidPublicKey(key));
      }),
      { numRuns: 500 },
    );
  });

  it('agree on digests that reduce to 0 and to n - 1 mod n', () => {
    const sk = hex(wire.keys.ones.privkey);
    const pubkey = ONES_PUBKEY;
    for (const digest of [
      new Uint8Array(32),
      scalarBytes(N),
      scalarBytes(N - 1n),
      scalarBytes((1n << 256n) - 1n),
    ]) {
      const signature = secp256k1.sign(digest, sk, { prehash: false, lowS: true });
      for (const b of backends) {
        expect(b.verify(signature, digest, pubkey)).toBe(true);
        expect(b.bindPublicKey(pubkey).verify(signature, digest)).toBe(true);
      }
    }
  });

  it('caches bound keys and keeps them separate', () => {
    for (const b of backends) {
      expect(b.bindPublicKey(ANVIL0_PUBKEY)).toBe(b.bindPublicKey(ANVIL0_PUBKEY.slice()));
      expect(b.bindPublicKey(ONES_PUBKEY).verify(V1_SIG, V1_DIGEST)).toBe(false);
      expect(b.bindPublicKey(ANVIL0_PUBKEY).verify(V1_SIG, V1_DIGEST)).toBe(true);
    }
  });

  it('agree on r and s at every range boundary', () => {
    const { r, s } = scalarsOf(V1_SIG);
    for (const rr of [0n, 1n, r, N - 1n, N, N + 1n]) {
      for (const ss of [0n, 1n, s, HALF_N - 1n, HALF_N, HALF_N + 1n, N - s, N - 1n, N]) {
        const signature = signatureOf(rr, ss);
        expect(native.verify(signature, V1_DIGEST, ANVIL0_PUBKEY)).toBe(
          noble.verify(signature, V1_DIGEST, ANVIL0_PUBKEY),
        );
      }
    }
  });
});
