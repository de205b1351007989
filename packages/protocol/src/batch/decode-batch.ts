import { decodeCbor } from '../cbor/decode-cbor';
import { expectKind, readTextKeyedMap, requireField, type ShapeErrorFactory } from '../cbor/expect';
import type { CborValue } from '../cbor/value';
import { PUBKEY_LENGTH, SIGNATURE_LENGTH } from '../cose/labels';
import { IntegerRangeError, InvalidLengthError } from '../errors';
import type { CborBatch } from '../types';
import { BatchStructureError, UnsupportedBatchVersionError } from './errors';
import { BATCH_KEYS, BATCH_VERSION, CONTENT_HASH_LENGTH } from './keys';

const fail: ShapeErrorFactory = (message, offset) => new BatchStructureError(message, offset);

/**
 * Decodes the (decompressed) batch CBOR map (docs/protocol.md#batch-map). Structure only: no
 * hashing and no message parsing (see `parseBatch`).
 *
 * Strictness: exactly the 8 keys v, s, e, t, h, m, sig, pubkey, in any order (serde accepts any
 * order; the sequencer writes them in that order); unknown or duplicate keys are errors; `v` must
 * be 1; `h` 32 bytes, `sig` and `pubkey` 64 bytes; `m` an array of byte strings; no trailing
 * bytes. Byte fields are views into `cbor`.
 */
export function decodeBatch(cbor: Uint8Array): CborBatch {
  // Depth 2: the map and the `m` array; anything deeper cannot be a batch.
  const tree = decodeCbor(cbor, { maxDepth: 2 });
  const fields = readTextKeyedMap(tree, 'batch', fail, { known: BATCH_KEYS, rejectUnknown: true });
  const field = (name: (typeof BATCH_KEYS)[number]): CborValue =>
    requireField(fields, name, 'batch', tree.start, fail);

  const version = expectKind(field('v'), 'uint', 'v', fail).value;
  if (version > 255n) throw new IntegerRangeError('v', version, 'u8');
  if (version !== BigInt(BATCH_VERSION)) throw new UnsupportedBatchVersionError(version);

  const messages = expectKind(field('m'), 'array', 'm', fail).items.map(
    (item, i) => expectKind(item, 'bytes', `m[${i}]`, fail).value,
  );

  return {
    version: Number(version),
    startSequence: expectKind(field('s'), 'uint', 's', fail).value,
    endSequence: expectKind(field('e'), 'uint', 'e', fail).value,
    createdAt: expectKind(field('t'), 'uint', 't', fail).value,
    contentHash: fixedBytes(field('h'), 'h', CONTENT_HASH_LENGTH),
    messages,
    signature: fixedBytes(field('sig'), 'sig', SIGNATURE_LENGTH),
    pubkey: fixedBytes(field('pubkey'), 'pubkey', PUBKEY_LENGTH),
  };
}

function fixedBytes(value: CborValue, name: string, length: number): Uint8Array {
  const bytes = expectKind(value, 'bytes', name, fail).value;
  if (bytes.length !== length) throw new InvalidLengthError(name, length, bytes.length);
  return bytes;
}
