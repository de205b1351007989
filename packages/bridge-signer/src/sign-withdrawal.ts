import { bytesToHex } from '@synddb/protocol';
import { recoverSignerAddress } from './address';
import { withdrawalDigest } from './eip191-digest';
import { BridgeSignatureError } from './errors';
import type { BridgeSignerKey } from './signer-key';

/** A validator's signature over a withdrawal message id, as persisted and served. */
export interface SignedWithdrawal {
  /** `0x` + 64 lowercase hex. */
  messageId: `0x${string}`;
  /** `0x` + 130 lowercase hex, `r || s || v`. */
  signature: `0x${string}`;
  /** The key's address (`key.address`, EIP-55). */
  signer: `0x${string}`;
}

/**
 * Signs `withdrawalDigest(messageId)` with `key` and checks the result before returning it: 65
 * bytes, v 27/28, low S, and it must recover to `key.address` (case-insensitive). A signature the
 * Bridge would reject throws `BridgeSignatureError` instead of being handed out.
 */
export function signWithdrawal(key: BridgeSignerKey, messageId: Uint8Array): SignedWithdrawal {
  const digest = withdrawalDigest(messageId);
  const signature = key.sign(digest);
  if (!(signature instanceof Uint8Array)) {
    throw new BridgeSignatureError('Signer key returned something other than bytes');
  }
  const recovered = recoverSignerAddress(digest, signature);
  if (recovered.toLowerCase() !== key.address.toLowerCase()) {
    throw new BridgeSignatureError('Signature does not recover to the signer address', {
      details: `recovered ${recovered}, expected ${key.address}`,
    });
  }
  return {
    messageId: `0x${bytesToHex(messageId)}`,
    signature: `0x${bytesToHex(signature)}`,
    signer: key.address,
  };
}
