import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@synddb/protocol';
import { addressFromPublicKey } from './address';
import { BridgeSignerKeyError } from './errors';
import { signRecoverable } from './sign-recoverable';

/**
 * A key that signs bridge digests. The secret stays inside the closure: the object has no field
 * that holds it, so logging or serializing a key never prints it.
 */
export interface BridgeSignerKey {
  /** EIP-55 checksummed address of the key. */
  readonly address: `0x${string}`;
  /** 65-byte `r || s || v` (low-S, v = 27/28) over a 32-byte digest. */
  sign(digest: Uint8Array): Uint8Array;
}

const KEY_HEX = /^(?:0[xX])?[0-9a-fA-F]{64}$/;

function keyFromSecret(secretKey: Uint8Array): BridgeSignerKey {
  const secret = secretKey.slice();
  const address = addressFromPublicKey(secp256k1.getPublicKey(secret, false));
  return Object.freeze({
    address,
    sign: (digest: Uint8Array) => signRecoverable(digest, secret),
  });
}

/**
 * A signer key from 64 hex characters (optional `0x`, either case). Throws `BridgeSignerKeyError`
 * for anything else and for a scalar outside `[1, n-1]`.
 */
export function signerKeyFromHex(hex: string): BridgeSignerKey {
  if (!KEY_HEX.test(hex)) {
    throw new BridgeSignerKeyError('Signer key must be 64 hex characters (optional 0x)', {
      details: `got ${hex.length} characters`,
    });
  }
  const secret = hexToBytes(hex.length === 66 ? hex.slice(2) : hex)!;
  if (!secp256k1.utils.isValidSecretKey(secret)) {
    throw new BridgeSignerKeyError('Signer key is not a valid secp256k1 secret (0 or >= n)');
  }
  return keyFromSecret(secret);
}

/** A fresh random signer key (CSPRNG). */
export function generateSignerKey(): BridgeSignerKey {
  return keyFromSecret(secp256k1.utils.randomSecretKey());
}

/** A fresh random secret as the key file stores it, `0x` + 64 lowercase hex. Internal. */
export function generateSecretHex(): string {
  return `0x${bytesToHex(secp256k1.utils.randomSecretKey())}`;
}
