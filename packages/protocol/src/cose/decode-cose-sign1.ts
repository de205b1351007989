import { decodeCbor } from '../cbor/decode-cbor';
import type { CborValue } from '../cbor/value';
import { InvalidLengthError } from '../errors';
import type { CoseSign1 } from '../types';
import { CoseStructureError } from './errors';
import { PUBKEY_LENGTH, SIGNATURE_LENGTH, UNPROTECTED_PUBKEY_LABEL } from './labels';
import { decodeProtectedHeader } from './protected-header';

/** Major type 6 (tag) in the initial byte. */
const TAG_MAJOR = 6;

/**
 * Parses one COSE_Sign1 message strictly (docs/protocol.md#signed-messages): the untagged array(4)
 * only (tag 18 is rejected, as coset's `from_slice` does), no trailing bytes, a protected header
 * with exactly the four SyndDB labels, an unprotected header that is exactly {"pubkey": bstr(64)},
 * a bstr or nil payload and a 64-byte signature. The structure is checked, not the signature.
 *
 * Returned byte fields are views into `raw` (no copies).
 */
export function decodeCoseSign1(raw: Uint8Array): CoseSign1 {
  if (raw.length > 0 && raw[0]! >> 5 === TAG_MAJOR) {
    throw new CoseStructureError(
      'tagged COSE_Sign1 is not accepted; the sequencer writes it untagged',
      0,
    );
  }
  // Depth 3: array -> unprotected map -> its values. CBOR errors propagate with their own class.
  const tree = decodeCbor(raw, { maxDepth: 3 });
  if (tree.kind !== 'array' || tree.items.length !== 4) {
    throw new CoseStructureError('COSE_Sign1 must be an array of 4 items', tree.start);
  }
  const [protectedItem, unprotectedItem, payloadItem, signatureItem] = tree.items as [
    CborValue,
    CborValue,
    CborValue,
    CborValue,
  ];

  if (protectedItem.kind !== 'bytes') {
    throw new CoseStructureError('protected header must be a byte string', protectedItem.start);
  }
  const protectedBytes = protectedItem.value;
  const header = decodeProtectedHeaderAt(protectedBytes, protectedItem.end - protectedBytes.length);

  const pubkey = readUnprotectedPubkey(unprotectedItem);

  let payload: Uint8Array;
  if (payloadItem.kind === 'bytes') payload = payloadItem.value;
  else if (payloadItem.kind === 'null') payload = new Uint8Array(0);
  else throw new CoseStructureError('payload must be a byte string or nil', payloadItem.start);

  if (signatureItem.kind !== 'bytes') {
    throw new CoseStructureError('signature must be a byte string', signatureItem.start);
  }
  if (signatureItem.value.length !== SIGNATURE_LENGTH) {
    throw new InvalidLengthError('signature', SIGNATURE_LENGTH, signatureItem.value.length);
  }

  return { protectedBytes, header, pubkey, payload, signature: signatureItem.value, raw };
}

/** Decodes the protected header, rebasing error offsets onto the whole message. */
function decodeProtectedHeaderAt(bytes: Uint8Array, base: number) {
  try {
    return decodeProtectedHeader(bytes);
  } catch (error) {
    if (error instanceof CoseStructureError) {
      throw new CoseStructureError(error.shortMessage, base + error.offset, error.cause);
    }
    throw error;
  }
}

function readUnprotectedPubkey(item: CborValue): Uint8Array {
  if (item.kind !== 'map')
    throw new CoseStructureError('unprotected header must be a map', item.start);
  if (item.entries.length !== 1) {
    throw new CoseStructureError(
      `unprotected header must hold only "${UNPROTECTED_PUBKEY_LABEL}", found ${item.entries.length} entries`,
      item.start,
    );
  }
  const { key, value } = item.entries[0]!;
  if (key.kind !== 'text' || key.value !== UNPROTECTED_PUBKEY_LABEL) {
    throw new CoseStructureError(
      `unprotected header is missing "${UNPROTECTED_PUBKEY_LABEL}"`,
      key.start,
    );
  }
  if (value.kind !== 'bytes') {
    throw new CoseStructureError('unprotected "pubkey" must be a byte string', value.start);
  }
  if (value.value.length !== PUBKEY_LENGTH) {
    throw new InvalidLengthError('pubkey', PUBKEY_LENGTH, value.value.length);
  }
  return value.value;
}
