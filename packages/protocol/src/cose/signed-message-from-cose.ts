import { keccak256 } from '../hash/keccak256';
import type { CoseSign1, SignedMessage } from '../types';

/**
 * The Rust `SignedMessage` view of a parsed COSE_Sign1. `coseProtectedHeader` is the ORIGINAL
 * protected bytes the signature covers (Rust stores coset's re-encoding, which is identical for
 * every normalized header; see `isNormalizedProtectedHeader`). `messageHash` = keccak256(payload).
 */
export function signedMessageFromCose(c: CoseSign1): SignedMessage {
  return {
    sequence: c.header.sequence,
    timestamp: c.header.timestamp,
    messageType: c.header.messageType,
    payload: c.payload,
    messageHash: keccak256(c.payload),
    signature: c.signature,
    signer: c.pubkey,
    coseProtectedHeader: c.protectedBytes,
  };
}
