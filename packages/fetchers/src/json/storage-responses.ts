import { type BatchInfo, bytesToHex, hexToBytes, keccak256 } from '@synddb/protocol';
import { InvalidResponseError } from '../errors';

const U64_MAX = (1n << 64n) - 1n;

/** `/status` of the sequencer (docs/protocol.md#sequencer-storage-api). */
export interface SequencerStatus {
  /** The next sequence the sequencer will assign. */
  currentSequence: bigint;
  /** `0x` + 40 lowercase hex, checked against `signerPubkey`. */
  signerAddress: string;
  /** 64-byte X||Y secp256k1 key the sequencer signs with. */
  signerPubkey: Uint8Array;
}

/**
 * `/storage/batches`: an array of `{start_sequence, end_sequence}` (u64, end >= start), sorted by
 * start ascending. `path` becomes the decimal start, as the reference sets it.
 */
export function batchListFromJson(value: unknown, source: string): BatchInfo[] {
  if (!Array.isArray(value))
    throw new InvalidResponseError(source, 'expected a JSON array of batches');
  const out: BatchInfo[] = new Array(value.length);
  let previous: bigint | null = null;
  for (let i = 0; i < value.length; i++) {
    const entry = asObject(value[i], source, `[${i}]`);
    const start = u64(entry.start_sequence, source, `[${i}].start_sequence`);
    const end = u64(entry.end_sequence, source, `[${i}].end_sequence`);
    if (end < start)
      throw new InvalidResponseError(
        source,
        `[${i}] has end_sequence ${end} < start_sequence ${start}`,
      );
    if (previous !== null && start < previous) {
      throw new InvalidResponseError(
        source,
        `[${i}] is out of order (start ${start} after ${previous})`,
      );
    }
    previous = start;
    out[i] = { startSequence: start, endSequence: end, path: start.toString() };
  }
  return out;
}

/** `/storage/latest`: `{"sequence": u64 | null}`. A missing field reads as null, as serde's Option does. */
export function latestSequenceFromJson(value: unknown, source: string): bigint | null {
  const obj = asObject(value, source, 'body');
  const v = obj.sequence;
  return v === null || v === undefined ? null : u64(v, source, 'sequence');
}

/**
 * `/status`: `{current_sequence, signer_address, signer_pubkey}`. The address must be the one
 * the pubkey derives to (keccak256(X||Y)[12..]); a mismatch means the body is not trustworthy.
 */
export function sequencerStatusFromJson(value: unknown, source: string): SequencerStatus {
  const obj = asObject(value, source, 'body');
  const currentSequence = u64(obj.current_sequence, source, 'current_sequence');
  const signerPubkey = hex(obj.signer_pubkey, 64, source, 'signer_pubkey');
  const address = hex(obj.signer_address, 20, source, 'signer_address');
  const derived = keccak256(signerPubkey).subarray(12);
  if (bytesToHex(derived) !== bytesToHex(address)) {
    throw new InvalidResponseError(source, 'signer_address does not match signer_pubkey', {
      details: `address 0x${bytesToHex(address)}, pubkey derives 0x${bytesToHex(derived)}`,
    });
  }
  return { currentSequence, signerAddress: `0x${bytesToHex(address)}`, signerPubkey };
}

function asObject(value: unknown, source: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidResponseError(source, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function u64(value: unknown, source: string, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
    throw new InvalidResponseError(source, `${field} must be an integer in [0, 2^64-1]`, {
      details: `got ${describe(value)}`,
    });
  }
  return value;
}

function hex(value: unknown, length: number, source: string, field: string): Uint8Array {
  const bytes =
    typeof value === 'string' && /^0x[0-9a-fA-F]*$/.test(value) && value.length === 2 + 2 * length
      ? hexToBytes(value.slice(2).toLowerCase())
      : null;
  if (bytes === null) {
    throw new InvalidResponseError(source, `${field} must be "0x" + ${2 * length} hex digits`, {
      details: `got ${describe(value)}`,
    });
  }
  return bytes;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `array(${v.length})`;
  return v === null ? 'null' : typeof v === 'object' ? 'object' : String(v);
}
