import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CborWriter } from '../cbor/cbor-writer';
import { keccak256 } from '../hash/keccak256';
import { buildSigStructure, messageSigningDigest } from './sig-structure';

/** The Sig_structure as the generic writer encodes it (what buildSigStructure used to call). */
function viaWriter(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return new CborWriter()
    .arrayHeader(4)
    .text('Signature1')
    .bytes(protectedBytes)
    .bytes(new Uint8Array(0))
    .bytes(payload)
    .finish();
}

describe('buildSigStructure', () => {
  it('writes the same bytes as the CBOR writer, at every head size', () => {
    for (const length of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 70_000]) {
      const payload = new Uint8Array(length).map((_, i) => i * 7);
      const protectedBytes = new Uint8Array(length % 300).fill(5);
      expect(buildSigStructure(protectedBytes, payload)).toEqual(
        viaWriter(protectedBytes, payload),
      );
    }
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 600 }),
        (protectedBytes, payload) => {
          expect(buildSigStructure(protectedBytes, payload)).toEqual(
            viaWriter(protectedBytes, payload),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads views, not their whole buffers', () => {
    const backing = new Uint8Array(100).map((_, i) => i);
    const p = backing.subarray(3, 13);
    const payload = backing.subarray(50, 90);
    expect(buildSigStructure(p, payload)).toEqual(viaWriter(p.slice(), payload.slice()));
    expect(messageSigningDigest(p, payload)).toEqual(keccak256(viaWriter(p, payload)));
  });

  it('messageSigningDigest: the digest of the Sig_structure, whatever was hashed before it', () => {
    // Written into one reused buffer: sizes that grow it, then shrink, leave no stale bytes.
    const sizes = [0, 10, 1000, 2000, 5, 9000, 24, 65_535, 65_536, 3, 70_000, 1];
    for (const length of sizes) {
      const payload = new Uint8Array(length).map((_, i) => (i * 13 + length) & 0xff);
      const protectedBytes = new Uint8Array(length % 50).fill(length & 0xff);
      expect(messageSigningDigest(protectedBytes, payload)).toEqual(
        keccak256(viaWriter(protectedBytes, payload)),
      );
    }
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 3000 }),
        (protectedBytes, payload) => {
          expect(messageSigningDigest(protectedBytes, payload)).toEqual(
            keccak256(viaWriter(protectedBytes, payload)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
