import { CborWriter } from '../cbor/cbor-writer';
import { InvalidLengthError } from '../errors';
import { PUBKEY_LENGTH, SIGNATURE_LENGTH, UNPROTECTED_PUBKEY_LABEL } from './labels';

export interface EncodeCoseSign1Parameters {
  /** Protected header bytes (normally from `encodeProtectedHeader`). */
  protectedBytes: Uint8Array;
  /** 64-byte X||Y signer key. */
  pubkey: Uint8Array;
  /** Compressed payload bytes. */
  payload: Uint8Array;
  /** 64-byte r||s. */
  signature: Uint8Array;
}

/**
 * Writes an untagged COSE_Sign1 exactly as coset's `to_vec` does for the sequencer:
 * [bstr(protected), {"pubkey": bstr(64)}, bstr(payload), bstr(signature)].
 */
export function encodeCoseSign1(parts: EncodeCoseSign1Parameters): Uint8Array {
  if (parts.pubkey.length !== PUBKEY_LENGTH) {
    throw new InvalidLengthError('pubkey', PUBKEY_LENGTH, parts.pubkey.length);
  }
  if (parts.signature.length !== SIGNATURE_LENGTH) {
    throw new InvalidLengthError('signature', SIGNATURE_LENGTH, parts.signature.length);
  }
  return new CborWriter()
    .arrayHeader(4)
    .bytes(parts.protectedBytes)
    .mapHeader(1)
    .text(UNPROTECTED_PUBKEY_LABEL)
    .bytes(parts.pubkey)
    .bytes(parts.payload)
    .bytes(parts.signature)
    .finish();
}
