import { secp256k1 } from '@noble/curves/secp256k1.js';
import { makeBackend } from './make-backend';
import type { Secp256k1Backend } from './types';

// noble v2 defaults to prehash: true (sha256 of the input); SyndDB signs keccak digests itself.
const VERIFY_OPTIONS = { prehash: false, lowS: true, format: 'compact' } as const;

/** Pure-JS backend on @noble/curves (audited, constant across platforms). */
export function createNobleBackend(): Secp256k1Backend {
  return makeBackend('noble', {
    verifyPrehashed: (signature, digest, sec1Key) =>
      secp256k1.verify(signature, digest, sec1Key, VERIFY_OPTIONS),
    isPoint: (sec1Key) => {
      secp256k1.Point.fromBytes(sec1Key).assertValidity();
      return true;
    },
  });
}
