import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keccak256, keccak256Implementation, keccak256Js } from './keccak256';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('keccak256', () => {
  it('uses OpenSSL on Node 24', () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major >= 24) expect(keccak256Implementation).toBe('openssl');
    else expect(['openssl', 'noble']).toContain(keccak256Implementation);
  });

  it('known answers (Ethereum keccak, not SHA3-256)', () => {
    expect(hex(keccak256(new Uint8Array(0)))).toBe(
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
    expect(hex(keccak256(new TextEncoder().encode('abc')))).toBe(
      '4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45',
    );
  });

  it('agrees with the pure-JS implementation on every length around the rate (136) and beyond', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), (bytes) => {
        expect(hex(keccak256(bytes))).toBe(hex(keccak256Js(bytes)));
      }),
      { numRuns: 400 },
    );
    for (const length of [135, 136, 137, 271, 272, 273]) {
      const bytes = new Uint8Array(length).fill(length);
      expect(hex(keccak256(bytes))).toBe(hex(keccak256Js(bytes)));
    }
  });

  it('hashes a subarray view, not its whole buffer', () => {
    const backing = new Uint8Array(64).map((_, i) => i);
    const view = backing.subarray(10, 20);
    expect(hex(keccak256(view))).toBe(hex(keccak256Js(Uint8Array.from(view))));
  });
});
