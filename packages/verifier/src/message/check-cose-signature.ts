import type { CoseSign1 } from '@synddb/protocol';
import { isNormalizedProtectedHeader, messageSigningDigest } from '@synddb/protocol';
import type { PublicKeyVerifier } from '../backend/types';
import { MessageSignatureError, NonNormalizedHeaderError } from '../errors';
import type { VerifiedMessage } from './verified-message';

/**
 * Verifies the signature of a structurally parsed message whose signer key has already been
 * matched against the trusted key. The digest is keccak256 of the Sig_structure built from the
 * ORIGINAL protected bytes (never a re-encoding), so any header byte change breaks it.
 */
export function checkCoseSignature(
  cose: CoseSign1,
  verifier: PublicKeyVerifier,
  requireNormalizedHeader: boolean,
): VerifiedMessage {
  const { sequence } = cose.header;
  if (requireNormalizedHeader && !isNormalizedProtectedHeader(cose.protectedBytes)) {
    throw new NonNormalizedHeaderError(sequence);
  }
  checkMessageSignature(cose, verifier);
  return verifiedFromCose(cose);
}

/**
 * Checks a message's signature over its signing digest: `digest` when the caller has it (a
 * spooled payload's, computed as it streamed), else keccak256 of the Sig_structure of the
 * protected bytes and payload. Throws MessageSignatureError.
 */
export function checkMessageSignature(
  cose: CoseSign1,
  verifier: PublicKeyVerifier,
  digest: Uint8Array = messageSigningDigest(cose.protectedBytes, cose.payload),
): void {
  if (!verifier.verify(cose.signature, digest)) {
    throw new MessageSignatureError(
      cose.header.sequence,
      `ECDSA (${verifier.backend}) rejected r||s over keccak256(Sig_structure)`,
    );
  }
}

export function verifiedFromCose(cose: CoseSign1): VerifiedMessage {
  return {
    sequence: cose.header.sequence,
    timestamp: cose.header.timestamp,
    messageType: cose.header.messageType,
    payload: cose.payload,
    signer: cose.pubkey,
    signature: cose.signature,
    protectedBytes: cose.protectedBytes,
    raw: cose.raw,
  };
}
