import { IntegerRangeError, InvalidLengthError } from '../errors';
import { keccak256 } from '../hash/keccak256';

const U64_MAX = (1n << 64n) - 1n;

/**
 * `keccak256(be64(start) || be64(end) || contentHash)`, what Rust's
 * `CborBatch::compute_signing_payload` returns (docs/protocol.md#batch-signature).
 */
export function batchSigningPayload(
  startSequence: bigint,
  endSequence: bigint,
  contentHash: Uint8Array,
): Uint8Array {
  if (contentHash.length !== 32)
    throw new InvalidLengthError('content hash', 32, contentHash.length);
  for (const [field, v] of [
    ['start sequence', startSequence],
    ['end sequence', endSequence],
  ] as const) {
    if (v < 0n || v > U64_MAX) throw new IntegerRangeError(field, v, '[0, 2^64-1]');
  }
  const input = new Uint8Array(48);
  const view = new DataView(input.buffer);
  view.setBigUint64(0, startSequence);
  view.setBigUint64(8, endSequence);
  input.set(contentHash, 16);
  return keccak256(input);
}

/**
 * The 32-byte ECDSA prehash of the batch signature: keccak256 of the signing payload, i.e. a double
 * keccak. The sequencer hashes the payload again before signing (docs/protocol.md#batch-signature).
 */
export function batchSigningDigest(
  startSequence: bigint,
  endSequence: bigint,
  contentHash: Uint8Array,
): Uint8Array {
  return keccak256(batchSigningPayload(startSequence, endSequence, contentHash));
}
