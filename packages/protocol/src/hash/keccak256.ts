import { keccak_256 } from '@noble/hashes/sha3.js';

/** Ethereum Keccak-256 (pre-NIST padding), NOT SHA3-256 (PROTOCOL.md §1.3). */
export function keccak256(bytes: Uint8Array): Uint8Array {
  return keccak_256(bytes);
}
