import { CborWriter } from '../cbor/cbor-writer';
import { decodeCbor } from '../cbor/decode-cbor';
import { encodeCbor } from '../cbor/encode-cbor';
import { CborDecodeError } from '../cbor/errors';
import type { CborMapEntry, CborValue } from '../cbor/value';
import { IntegerRangeError, InvalidMessageTypeError, SyndDBError } from '../errors';
import { isMessageType } from '../message-type-names';
import type { ProtectedHeader } from '../types';
import { CoseStructureError, UnsupportedAlgorithmError } from './errors';
import {
  ALG_ES256K,
  COSE_LABEL_ALG,
  HEADER_MSG_TYPE,
  HEADER_SEQUENCE,
  HEADER_TIMESTAMP,
} from './labels';

const U64_MAX = (1n << 64n) - 1n;

/**
 * Encodes the protected header exactly as coset writes it for the sequencer
 * (docs/protocol.md#cose-protected-header): map(4) alg, sequence, timestamp, type, all with minimal
 * heads.
 */
export function encodeProtectedHeader(header: ProtectedHeader): Uint8Array {
  checkU64('sequence', header.sequence);
  checkU64('timestamp', header.timestamp);
  if (header.alg !== ALG_ES256K) throw new UnsupportedAlgorithmError(header.alg);
  if (!isMessageType(header.messageType)) throw new InvalidMessageTypeError(header.messageType);
  return new CborWriter()
    .mapHeader(4)
    .int(COSE_LABEL_ALG)
    .int(header.alg)
    .int(HEADER_SEQUENCE)
    .uint(header.sequence)
    .int(HEADER_TIMESTAMP)
    .uint(header.timestamp)
    .int(HEADER_MSG_TYPE)
    .uint(header.messageType)
    .finish();
}

/**
 * Decodes protected header bytes strictly: a map with exactly the labels alg (= -47), sequence,
 * timestamp and message type; sequence/timestamp unsigned u64; type in {0, 1, 2}. Offsets in
 * errors are relative to `bytes`.
 */
export function decodeProtectedHeader(bytes: Uint8Array): ProtectedHeader {
  let tree: CborValue;
  try {
    tree = decodeCbor(bytes, { maxDepth: 2 });
  } catch (cause) {
    if (cause instanceof CborDecodeError) {
      throw new CoseStructureError(
        `protected header is not valid CBOR: ${cause.shortMessage}`,
        cause.offset,
        cause,
      );
    }
    throw cause;
  }
  return headerFromTree(tree);
}

function headerFromTree(tree: CborValue): ProtectedHeader {
  if (tree.kind !== 'map')
    throw new CoseStructureError('protected header must be a map', tree.start);
  const byLabel = new Map<bigint, CborValue>();
  for (const { key, value } of tree.entries) {
    if (key.kind === 'text') {
      throw new CoseStructureError(`unexpected protected header label "${key.value}"`, key.start);
    }
    if (
      key.value !== COSE_LABEL_ALG &&
      key.value !== HEADER_SEQUENCE &&
      key.value !== HEADER_TIMESTAMP &&
      key.value !== HEADER_MSG_TYPE
    ) {
      throw new CoseStructureError(`unexpected protected header label ${key.value}`, key.start);
    }
    byLabel.set(key.value, value);
  }
  const alg = requireLabel(byLabel, COSE_LABEL_ALG, 'alg', tree.start);
  if (alg.kind !== 'nint' || alg.value !== BigInt(ALG_ES256K)) {
    throw new UnsupportedAlgorithmError('value' in alg ? alg.value : alg.kind);
  }
  const sequence = requireUnsigned(byLabel, HEADER_SEQUENCE, 'sequence', tree.start);
  const timestamp = requireUnsigned(byLabel, HEADER_TIMESTAMP, 'timestamp', tree.start);
  const typeValue = requireLabel(byLabel, HEADER_MSG_TYPE, 'message type', tree.start);
  if (typeValue.kind !== 'uint' && typeValue.kind !== 'nint') {
    throw new CoseStructureError(
      `message type must be an integer, got ${typeValue.kind}`,
      typeValue.start,
    );
  }
  // Exact: only 0n, 1n and 2n convert to 0, 1 and 2.
  const messageType = Number(typeValue.value);
  if (!isMessageType(messageType)) {
    throw new InvalidMessageTypeError(typeValue.value, 'protected header label -65539');
  }
  return {
    alg: ALG_ES256K,
    sequence,
    timestamp,
    messageType,
  };
}

function requireLabel(
  byLabel: Map<bigint, CborValue>,
  label: bigint,
  name: string,
  mapStart: number,
): CborValue {
  const value = byLabel.get(label);
  if (value === undefined) {
    throw new CoseStructureError(`protected header is missing ${name} (label ${label})`, mapStart);
  }
  return value;
}

function requireUnsigned(
  byLabel: Map<bigint, CborValue>,
  label: bigint,
  name: string,
  mapStart: number,
): bigint {
  const value = requireLabel(byLabel, label, name, mapStart);
  if (value.kind === 'nint') {
    // Rust would wrap a negative value with `as u64`; we refuse it.
    throw new IntegerRangeError(
      name,
      value.value,
      '[0, 2^64-1]',
      `protected header label ${label}`,
    );
  }
  if (value.kind !== 'uint') {
    throw new CoseStructureError(
      `${name} must be an unsigned integer, got ${value.kind}`,
      value.start,
    );
  }
  return value.value;
}

/**
 * true when `bytes` is a valid protected header that coset would re-encode to the very same
 * bytes (alg first, then the other labels in received order, minimal heads). The Rust validator
 * verifies the signature a second time over that re-encoding, so only such headers pass it
 * (docs/protocol.md#protected-header-normalization).
 */
export function isNormalizedProtectedHeader(bytes: Uint8Array): boolean {
  let tree: CborValue;
  try {
    tree = decodeCbor(bytes, { maxDepth: 2 });
    headerFromTree(tree);
  } catch (error) {
    if (error instanceof SyndDBError) return false;
    throw error;
  }
  if (tree.kind !== 'map') return false;
  const alg = tree.entries.filter((e) => e.key.kind !== 'text' && e.key.value === COSE_LABEL_ALG);
  const rest = tree.entries.filter(
    (e) => !(e.key.kind !== 'text' && e.key.value === COSE_LABEL_ALG),
  );
  const reordered: CborMapEntry[] = [...alg, ...rest];
  const recoded = encodeCbor({ ...tree, entries: reordered });
  if (recoded.length !== bytes.length) return false;
  for (let i = 0; i < recoded.length; i++) if (recoded[i] !== bytes[i]) return false;
  return true;
}

function checkU64(field: string, value: bigint): void {
  if (value < 0n || value > U64_MAX) throw new IntegerRangeError(field, value, '[0, 2^64-1]');
}
