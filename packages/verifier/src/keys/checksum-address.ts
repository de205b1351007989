import { keccak_256 } from '@noble/hashes/sha3.js';

/**
 * EIP-55 mixed-case checksum of a 40-hex-digit address (any case, no prefix): a letter is
 * uppercased when the matching nibble of keccak256(lowercase hex as ASCII) is >= 8.
 */
export function toChecksumAddress(addressHex: string): string {
  const lower = addressHex.toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(lower));
  let out = '0x';
  for (let i = 0; i < lower.length; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out;
}
