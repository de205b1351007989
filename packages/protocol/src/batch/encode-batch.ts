import { CborWriter } from '../cbor/cbor-writer';
import { PUBKEY_LENGTH, SIGNATURE_LENGTH } from '../cose/labels';
import { IntegerRangeError, InvalidLengthError } from '../errors';
import type { CborBatch } from '../types';
import { CONTENT_HASH_LENGTH } from './keys';

/**
 * Encodes a batch exactly as serde/ciborium writes `CborBatchWire`: map(8) with keys
 * v, s, e, t, h, m, sig, pubkey in that order and minimal heads.
 */
export function encodeBatch(batch: CborBatch): Uint8Array {
  if (!Number.isInteger(batch.version) || batch.version < 0 || batch.version > 255) {
    throw new IntegerRangeError('v', BigInt(Math.trunc(batch.version)), 'u8');
  }
  checkLength('h', batch.contentHash, CONTENT_HASH_LENGTH);
  checkLength('sig', batch.signature, SIGNATURE_LENGTH);
  checkLength('pubkey', batch.pubkey, PUBKEY_LENGTH);
  const w = new CborWriter().mapHeader(8);
  w.text('v').uint(batch.version);
  w.text('s').uint(batch.startSequence);
  w.text('e').uint(batch.endSequence);
  w.text('t').uint(batch.createdAt);
  w.text('h').bytes(batch.contentHash);
  w.text('m').arrayHeader(batch.messages.length);
  for (const m of batch.messages) w.bytes(m);
  w.text('sig').bytes(batch.signature);
  w.text('pubkey').bytes(batch.pubkey);
  return w.finish();
}

function checkLength(field: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new InvalidLengthError(field, length, bytes.length);
}
