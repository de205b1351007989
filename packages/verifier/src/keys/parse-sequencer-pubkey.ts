import { secp256k1 } from '@noble/curves/secp256k1.js';
import { InvalidPublicKeyError } from '../errors';

const PUBKEY_HEX_LENGTH = 128;
const HEX_PATTERN = /^[0-9a-fA-F]*$/;

/**
 * Parses a sequencer public key as the Rust validator's `SEQUENCER_PUBKEY` does: 128 hex characters
 * (64 bytes X||Y, no 0x04 prefix), an optional `0x`/`0X`, either case. Unlike Rust it also checks,
 * at startup, that the key is a point on secp256k1 (the all-zero key is not).
 */
export function parseSequencerPubkey(input: string): Uint8Array {
  const trimmed = input.trim();
  const hex = trimmed.startsWith('0x') || trimmed.startsWith('0X') ? trimmed.slice(2) : trimmed;
  if (hex.length !== PUBKEY_HEX_LENGTH) {
    throw new InvalidPublicKeyError(
      'length',
      `sequencer public key must be ${PUBKEY_HEX_LENGTH} hex characters (64 bytes X||Y), got ${hex.length}`,
      {
        details:
          hex.length === 130 && hex.startsWith('04')
            ? 'drop the leading 04 (SEC1 prefix): the key is X||Y only'
            : hex.length === 66
              ? 'a compressed 33-byte key is not accepted; use the 64-byte X||Y form'
              : undefined,
      },
    );
  }
  if (!HEX_PATTERN.test(hex)) {
    const index = [...hex].findIndex((c) => !/[0-9a-fA-F]/.test(c));
    throw new InvalidPublicKeyError('hex', 'sequencer public key is not valid hex', {
      details: `invalid character ${JSON.stringify(hex[index])} at position ${index}`,
    });
  }
  const pubkey = new Uint8Array(64);
  for (let i = 0; i < 64; i++) pubkey[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  assertPointOnCurve(pubkey);
  return pubkey;
}

/** Throws `InvalidPublicKeyError` unless the 64-byte X||Y key is a point on secp256k1. */
export function assertPointOnCurve(pubkey: Uint8Array): void {
  if (pubkey.length !== 64) {
    throw new InvalidPublicKeyError('length', `public key must be 64 bytes, got ${pubkey.length}`);
  }
  const sec1 = new Uint8Array(65);
  sec1[0] = 0x04;
  sec1.set(pubkey, 1);
  try {
    secp256k1.Point.fromBytes(sec1).assertValidity();
  } catch (cause) {
    throw new InvalidPublicKeyError(
      'not-on-curve',
      'sequencer public key is not a point on secp256k1',
      { cause },
    );
  }
}
