import { createHash, hash } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';

/**
 * OpenSSL >= 3.2 (Node 24) has Ethereum's KECCAK-256; it is ~10x faster than the pure-JS
 * implementation on the short inputs the verifier hashes per message. Older OpenSSL builds
 * (Node 22) fall back to @noble/hashes. Both are checked against each other in the tests.
 */
const hasNativeKeccak = ((): boolean => {
  try {
    const empty = createHash('KECCAK-256').digest('hex');
    return empty === 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';
  } catch {
    return false;
  }
})();

/**
 * `crypto.hash` (one-shot, no Hash object: ~40% less per call on the ~100-byte inputs hashed per
 * message) when this Node has it (checked once); createHash otherwise. Its digest is taken as a
 * latin1 string and copied into a 32-byte array, which V8 keeps on its heap: a Buffer digest has
 * its own malloc'ed backing store, whose allocation and (background) sweeping cost more than the
 * hash (1.6 vs 0.6 us of process CPU per call on Node 24).
 */
const hasOneShot = ((): boolean => {
  if (!hasNativeKeccak || typeof hash !== 'function') return false;
  try {
    const empty = hash('KECCAK-256', new Uint8Array(0), 'binary') as unknown;
    return (
      typeof empty === 'string' &&
      Buffer.from(empty, 'latin1').toString('hex') ===
        'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    );
  } catch {
    return false;
  }
})();

/** Ethereum Keccak-256 (pre-NIST padding), NOT SHA3-256 (docs/protocol.md#hashes). */
export function keccak256(bytes: Uint8Array): Uint8Array {
  if (!hasNativeKeccak) return keccak_256(bytes);
  if (hasOneShot) {
    const digest = hash('KECCAK-256', bytes, 'binary');
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
    return out;
  }
  const digest = createHash('KECCAK-256').update(bytes).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * keccak256 of the concatenation of `parts`, hashed incrementally: no concatenated copy (what a
 * signed snapshot of a whole database needs; `keccak256` is faster on short single inputs).
 */
export function keccak256Parts(parts: readonly Uint8Array[]): Uint8Array {
  if (!hasNativeKeccak) {
    const h = keccak_256.create();
    for (const part of parts) h.update(part);
    return h.digest();
  }
  const h = createHash('KECCAK-256');
  for (const part of parts) h.update(part);
  const digest = h.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** A hash fed in pieces (`update` as the bytes arrive, `digest` once at the end). */
export interface IncrementalHash {
  update(bytes: Uint8Array): void;
  digest(): Uint8Array;
}

/**
 * keccak256 fed in pieces: for inputs that stream past (a snapshot payload as it is downloaded,
 * never held whole). Same implementation choice as `keccak256`.
 */
export function createKeccak256(): IncrementalHash {
  if (!hasNativeKeccak) {
    const h = keccak_256.create();
    return { update: (bytes) => void h.update(bytes), digest: () => h.digest() };
  }
  const h = createHash('KECCAK-256');
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => {
      const digest = h.digest();
      return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
    },
  };
}

/** The pure-JS implementation, whatever the platform has (for tests and benchmarks). */
export function keccak256Js(bytes: Uint8Array): Uint8Array {
  return keccak_256(bytes);
}

/** Which implementation `keccak256` uses in this process. */
export const keccak256Implementation: 'openssl' | 'noble' = hasNativeKeccak ? 'openssl' : 'noble';
