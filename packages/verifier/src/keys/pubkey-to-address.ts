import { keccak_256 } from '@noble/hashes/sha3.js';
import { InvalidPublicKeyError } from '../errors';
import { toChecksumAddress } from './checksum-address';

const HEX = '0123456789abcdef';

/**
 * Ethereum address of a 64-byte X||Y key: keccak256(X||Y)[12..32], EIP-55 checksummed.
 * For display (`/status`); verification always compares the full key.
 */
export function pubkeyToAddress(pubkey: Uint8Array): string {
  if (pubkey.length !== 64) {
    throw new InvalidPublicKeyError('length', `public key must be 64 bytes, got ${pubkey.length}`);
  }
  let lower = '';
  for (const b of keccak_256(pubkey).subarray(12)) lower += HEX[b >> 4]! + HEX[b & 15]!;
  return toChecksumAddress(lower);
}
