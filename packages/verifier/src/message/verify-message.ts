import type { CoseSign1 } from '@synddb/protocol';
import { decodeCoseSign1 } from '@synddb/protocol';
import { defaultBackend } from '../backend/default-backend';
import { assertTrustedSigner } from '../keys/assert-signer';
import { checkCoseSignature } from './check-cose-signature';
import type { VerifiedMessage } from './verified-message';
import type { VerifyMessageOptions } from './verify-options';

/**
 * Verifies one COSE_Sign1 message (docs/protocol.md#message-verification): strict structure,
 * unprotected `pubkey` == the trusted key (`SignerMismatchError`), and a low-S ECDSA signature
 * over keccak256(Sig_structure) (`MessageSignatureError`).
 *
 * A `CoseSign1` object is re-decoded from its `raw` bytes: what is verified is always what was
 * received, never fields a caller may have assembled by hand.
 */
export function verifyMessage(
  message: Uint8Array | CoseSign1,
  options: VerifyMessageOptions,
): VerifiedMessage {
  const cose = decodeCoseSign1(message instanceof Uint8Array ? message : message.raw);
  assertTrustedSigner('message', options.expectedPubkey, cose.pubkey, cose.header.sequence);
  const backend = options.backend ?? defaultBackend();
  return checkCoseSignature(
    cose,
    backend.bindPublicKey(cose.pubkey),
    options.requireNormalizedHeader ?? false,
  );
}
