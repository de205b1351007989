import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hexToBytes, keccak256 } from '@synddb/protocol';

const EIP191_PREFIX = new TextEncoder().encode('\x19Ethereum Signed Message:\n32');

/**
 * The sequencer's message id for a withdrawal `request_id` (PROTOCOL.md §6): up to 64 hex
 * characters (optional `0x`, even length) are the id, left-padded with zeros to 32 bytes; any
 * other string is keccak256 of its UTF-8 bytes. (The Rust validator's rule differs for short or
 * unprefixed hex, REFERENCE.md §1.12.2; this is the sequencer's.)
 */
export function withdrawalMessageId(requestId: string): Uint8Array {
  const hex =
    requestId.startsWith('0x') || requestId.startsWith('0X') ? requestId.slice(2) : requestId;
  if (hex.length > 0 && hex.length <= 64) {
    const bytes = hexToBytes(hex);
    if (bytes !== null) {
      const id = new Uint8Array(32);
      id.set(bytes, 32 - bytes.length);
      return id;
    }
  }
  return keccak256(new TextEncoder().encode(requestId));
}

/**
 * `keccak256(message_id32 || recipient20 || keccak256(data) || u256_be(amount))`, the Bridge's
 * sequencer message hash (abi.encodePacked, REFERENCE.md §3.2). `recipient` must be validated.
 */
export function withdrawalMessageHash(
  messageId: Uint8Array,
  recipient: string,
  data: Uint8Array,
  amount: bigint,
): Uint8Array {
  const packed = new Uint8Array(32 + 20 + 32 + 32);
  packed.set(messageId, 0);
  packed.set(hexToBytes(recipient.slice(2)) ?? new Uint8Array(20), 32);
  packed.set(keccak256(data), 52);
  packed.set(hexToBytes(amount.toString(16).padStart(64, '0')) ?? new Uint8Array(32), 84);
  return keccak256(packed);
}

/** EIP-191 `personal_sign` digest of a 32-byte hash (OpenZeppelin `toEthSignedMessageHash`). */
export function eip191Digest(hash: Uint8Array): Uint8Array {
  const input = new Uint8Array(EIP191_PREFIX.length + hash.length);
  input.set(EIP191_PREFIX, 0);
  input.set(hash, EIP191_PREFIX.length);
  return keccak256(input);
}

/** 65-byte `r || s || v` (v = 27/28, low-S) over `digest`, as ecrecover and OpenZeppelin want. */
export function signRecoverable(digest: Uint8Array, secretKey: Uint8Array): Uint8Array {
  // noble's 'recovered' format is recovery-id || r || s.
  const recovered = secp256k1.sign(digest, secretKey, {
    prehash: false,
    lowS: true,
    format: 'recovered',
  });
  const out = new Uint8Array(65);
  out.set(recovered.subarray(1), 0);
  out[64] = 27 + recovered[0]!;
  return out;
}
