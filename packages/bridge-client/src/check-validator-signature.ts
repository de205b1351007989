import { recoverSignerAddress, withdrawalDigest } from '@synddb/bridge-signer';
import { hexToBytes } from '@synddb/protocol';

export type SignatureCheck =
  | { ok: true; signer: string }
  | { ok: false; reason: SignatureRejection; detail: string; signer?: string };

/** Why a validator signature is not used. */
export type SignatureRejection =
  | 'malformed'
  | 'unrecoverable'
  | 'signer_mismatch'
  | 'unregistered_signer';

/**
 * Checks a validator's signature over a message id the way the Bridge will: 65 bytes `r‖s‖v`,
 * `v` 27/28, low S, recovering over the EIP-191 digest of the raw 32-byte id
 * (`signMessageWithSignature`) to a key in `validKeys` (the current Validator keys, lowercase).
 * `claimedSigner`, when given, must be the recovered address. One unregistered signer reverts a
 * whole `initializeAndHandleMessage`, so a signature failing here is never sent.
 */
export function checkValidatorSignature(
  messageId: string,
  signature: string,
  validKeys: ReadonlySet<string>,
  claimedSigner?: string,
): SignatureCheck {
  const id = /^0x[0-9a-fA-F]{64}$/.test(messageId) ? hexToBytes(messageId.slice(2)) : null;
  if (id === null) return { ok: false, reason: 'malformed', detail: 'message id is not 32 bytes' };
  const bytes = /^0x[0-9a-fA-F]{130}$/.test(signature) ? hexToBytes(signature.slice(2)) : null;
  if (bytes === null) {
    return { ok: false, reason: 'malformed', detail: 'signature is not 0x + 130 hex (65 bytes)' };
  }
  let signer: string;
  try {
    signer = recoverSignerAddress(withdrawalDigest(id), bytes).toLowerCase();
  } catch (error) {
    return {
      ok: false,
      reason: 'unrecoverable',
      detail: (error as { shortMessage?: string }).shortMessage ?? String(error),
    };
  }
  if (claimedSigner !== undefined && claimedSigner.toLowerCase() !== signer) {
    return {
      ok: false,
      reason: 'signer_mismatch',
      detail: `claims ${claimedSigner.toLowerCase()}, recovers to ${signer}`,
      signer,
    };
  }
  if (!validKeys.has(signer)) {
    return {
      ok: false,
      reason: 'unregistered_signer',
      detail: `${signer} is not a current Validator key`,
      signer,
    };
  }
  return { ok: true, signer };
}
