import type { SignedMessage } from '@synddb/protocol';
import { decodeCoseSign1, encodeCoseSign1, HeaderMismatchError } from '@synddb/protocol';
import { defaultBackend } from '../backend/default-backend';
import { assertTrustedSigner } from '../keys/assert-signer';
import { checkCoseSignature } from './check-cose-signature';
import type { VerifiedMessage } from './verified-message';
import type { VerifyMessageOptions } from './verify-options';

/**
 * Verifies a `SignedMessage` from the JSON path (`/storage/messages/{seq}`). The COSE message is
 * rebuilt from its parts and decoded strictly, so `coseProtectedHeader` is parsed with the same
 * rules as in a batch. The outer `sequence`, `timestamp` AND `messageType` must equal the signed
 * header (`HeaderMismatchError`; Rust forgets the type,
 * docs/defects-fixed.md#message-type-not-bound), the signer must be the trusted key, and the
 * signature must verify. `messageHash` is informational and ignored.
 */
export function verifySignedMessage(
  message: SignedMessage,
  options: VerifyMessageOptions,
): VerifiedMessage {
  const raw = encodeCoseSign1({
    protectedBytes: message.coseProtectedHeader,
    pubkey: message.signer,
    payload: message.payload,
    signature: message.signature,
  });
  const cose = decodeCoseSign1(raw);
  const { header } = cose;
  if (message.sequence !== header.sequence) {
    throw new HeaderMismatchError('sequence', `${message.sequence}`, `${header.sequence}`);
  }
  if (message.timestamp !== header.timestamp) {
    throw new HeaderMismatchError('timestamp', `${message.timestamp}`, `${header.timestamp}`);
  }
  if (message.messageType !== header.messageType) {
    throw new HeaderMismatchError(
      'message_type',
      `${message.messageType}`,
      `${header.messageType}`,
    );
  }
  assertTrustedSigner('message', options.expectedPubkey, cose.pubkey, header.sequence);
  const backend = options.backend ?? defaultBackend();
  return checkCoseSignature(
    cose,
    backend.bindPublicKey(cose.pubkey),
    options.requireNormalizedHeader ?? false,
  );
}
