import { InvalidPublicKeyError } from '../errors';
import {
  DIGEST_BYTES,
  hasCanonicalLowSScalars,
  PUBKEY_BYTES,
  toUncompressedSec1,
} from './signature-rules';
import type { PublicKeyVerifier, Secp256k1Backend } from './types';

/** The curve arithmetic a backend supplies; inputs are already length- and range-checked. */
export interface CurvePrimitives {
  /** ECDSA verify of a canonical low-S r||s over a 32-byte prehash; `sec1Key` is 0x04||X||Y. */
  verifyPrehashed(signature: Uint8Array, digest: Uint8Array, sec1Key: Uint8Array): boolean;
  /** true when the 65-byte uncompressed key is a point on the curve. */
  isPoint(sec1Key: Uint8Array): boolean;
  /** Optional per-key precomputation for keys verified many times (same contract as verifyPrehashed). */
  prepareKey?(sec1Key: Uint8Array): (signature: Uint8Array, digest: Uint8Array) => boolean;
}

/** Bound keys kept per backend: the sequencer key is one key, so this is a hit on every batch. */
const BOUND_KEY_CACHE_SIZE = 8;

/**
 * Wraps curve primitives with the SyndDB acceptance rules (lengths, scalar ranges, low-S), so
 * that backends differ only in arithmetic, never in what they accept.
 */
export function makeBackend(
  name: Secp256k1Backend['name'],
  curve: CurvePrimitives,
): Secp256k1Backend {
  const verifyWithKey = (
    signature: Uint8Array,
    digest: Uint8Array,
    sec1Key: Uint8Array,
  ): boolean => {
    if (digest.length !== DIGEST_BYTES || !hasCanonicalLowSScalars(signature)) return false;
    try {
      return curve.verifyPrehashed(signature, digest, sec1Key);
    } catch {
      // Either library throws on a key that does not parse; that is a plain rejection here.
      return false;
    }
  };

  const isValidPublicKey = (pubkey: Uint8Array): boolean => {
    if (pubkey.length !== PUBKEY_BYTES) return false;
    try {
      return curve.isPoint(toUncompressedSec1(pubkey));
    } catch {
      return false;
    }
  };

  const bound = new Map<string, PublicKeyVerifier>();
  const backend: Secp256k1Backend = {
    name,
    verify(signature, digest, pubkey) {
      if (pubkey.length !== PUBKEY_BYTES) return false;
      return verifyWithKey(signature, digest, toUncompressedSec1(pubkey));
    },
    isValidPublicKey,
    bindPublicKey(pubkey): PublicKeyVerifier {
      const cacheKey = keyId(pubkey);
      const cached = bound.get(cacheKey);
      if (cached !== undefined) return cached;
      if (!isValidPublicKey(pubkey)) {
        throw new InvalidPublicKeyError(
          pubkey.length === PUBKEY_BYTES ? 'not-on-curve' : 'length',
          pubkey.length === PUBKEY_BYTES
            ? 'public key is not a point on secp256k1'
            : `public key must be ${PUBKEY_BYTES} bytes, got ${pubkey.length}`,
        );
      }
      const sec1Key = toUncompressedSec1(pubkey);
      const prepared = curve.prepareKey?.(sec1Key);
      const verifier: PublicKeyVerifier = {
        backend: name,
        pubkey: sec1Key.slice(1),
        verify: prepared
          ? (signature, digest) => {
              if (digest.length !== DIGEST_BYTES || !hasCanonicalLowSScalars(signature))
                return false;
              try {
                return prepared(signature, digest);
              } catch {
                return false;
              }
            }
          : (signature, digest) => verifyWithKey(signature, digest, sec1Key),
      };
      if (bound.size >= BOUND_KEY_CACHE_SIZE) bound.delete(bound.keys().next().value as string);
      bound.set(cacheKey, verifier);
      return verifier;
    },
  };
  return backend;
}

function keyId(pubkey: Uint8Array): string {
  let id = '';
  for (const b of pubkey) id += String.fromCharCode(b);
  return id;
}
