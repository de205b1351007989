import { bytesToHex, hexToBytes } from '../bytes/hex';
import { decodeProtectedHeader } from '../cose/protected-header';
import { IntegerRangeError, InvalidMessageTypeError } from '../errors';
import { isMessageType, MESSAGE_TYPE_NAMES, messageTypeFromName } from '../message-type-names';
import type { SignedMessage } from '../types';
import { HeaderMismatchError, SignedMessageJsonError } from './errors';

const U64_MAX = (1n << 64n) - 1n;

/**
 * Validates the JSON form of a SignedMessage (docs/protocol.md#signedmessage-json) and converts it.
 * Byte fields are arrays of integers 0..255 (`payload`, `cose_protected_header`) or `0x` + hex
 * (`message_hash`, `signature`, `signer`); u64 fields are numbers (safe integers) or bigints.
 * Unknown fields are ignored as serde does. The protected header must decode strictly, and the
 * outer sequence, timestamp and message type must equal its values (the JSON type is never trusted
 * on its own). `message_hash` is format-checked only: it is informational and nobody verifies it
 * upstream.
 */
export function signedMessageFromJson(value: unknown): SignedMessage {
  const obj = asObject(value, 'SignedMessage');
  const sequence = u64Field(obj, 'sequence');
  const timestamp = u64Field(obj, 'timestamp');
  const typeObj = asObject(obj.message_type, 'message_type');
  const typeName = typeObj.type;
  const messageType = typeof typeName === 'string' ? messageTypeFromName(typeName) : undefined;
  if (messageType === undefined)
    throw new InvalidMessageTypeError(JSON.stringify(typeName), 'JSON message_type.type');
  const payload = byteArrayField(obj, 'payload');
  const messageHash = hexField(obj, 'message_hash', 32);
  const signature = hexField(obj, 'signature', 64);
  const signer = hexField(obj, 'signer', 64);
  const coseProtectedHeader = byteArrayField(obj, 'cose_protected_header');

  const header = decodeProtectedHeader(coseProtectedHeader);
  if (header.sequence !== sequence)
    throw new HeaderMismatchError('sequence', `${sequence}`, `${header.sequence}`);
  if (header.timestamp !== timestamp)
    throw new HeaderMismatchError('timestamp', `${timestamp}`, `${header.timestamp}`);
  if (header.messageType !== messageType) {
    throw new HeaderMismatchError(
      'message_type',
      MESSAGE_TYPE_NAMES[messageType],
      MESSAGE_TYPE_NAMES[header.messageType],
    );
  }
  return {
    sequence,
    timestamp,
    messageType,
    payload,
    messageHash,
    signature,
    signer,
    coseProtectedHeader,
  };
}

/**
 * Parses the JSON text of `/storage/messages/{seq}` keeping u64 values exact: integer literals
 * beyond 2^53 become bigints instead of being rounded by JSON.parse.
 */
export function parseSignedMessageJson(text: string): SignedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text, (_key, v: unknown, context?: { source?: string }) => {
      if (typeof v !== 'number' || Number.isSafeInteger(v)) return v;
      const source = context?.source;
      if (source !== undefined && /^-?[0-9]+$/.test(source)) return BigInt(source);
      return v;
    });
  } catch (cause) {
    throw new SignedMessageJsonError('response is not valid JSON', { cause });
  }
  return signedMessageFromJson(value);
}

/** Serializes like serde_json does for the Rust struct: compact, fields in declaration order. */
export function signedMessageToJson(m: SignedMessage): string {
  for (const [field, v] of [
    ['sequence', m.sequence],
    ['timestamp', m.timestamp],
  ] as const) {
    if (v < 0n || v > U64_MAX) throw new IntegerRangeError(field, v, '[0, 2^64-1]');
  }
  if (!isMessageType(m.messageType)) throw new InvalidMessageTypeError(m.messageType);
  const name = MESSAGE_TYPE_NAMES[m.messageType];
  return (
    `{"sequence":${m.sequence},"timestamp":${m.timestamp},"message_type":{"type":"${name}"},` +
    `"payload":[${m.payload.join(',')}],"message_hash":"0x${bytesToHex(m.messageHash)}",` +
    `"signature":"0x${bytesToHex(m.signature)}","signer":"0x${bytesToHex(m.signer)}",` +
    `"cose_protected_header":[${m.coseProtectedHeader.join(',')}]}`
  );
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignedMessageJsonError(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function u64Field(obj: Record<string, unknown>, field: string): bigint {
  const v = obj[field];
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw new IntegerRangeError(field, v, '[0, 2^64-1]');
    return v;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new SignedMessageJsonError(`${field} must be an unsigned integer`, {
      details: `got ${describe(v)}`,
    });
  }
  if (!Number.isSafeInteger(v)) {
    throw new SignedMessageJsonError(`${field} lost precision in JSON.parse`, {
      details: 'use parseSignedMessageJson to keep u64 values exact',
    });
  }
  if (v < 0) throw new IntegerRangeError(field, BigInt(v), '[0, 2^64-1]');
  return BigInt(v);
}

function byteArrayField(obj: Record<string, unknown>, field: string): Uint8Array {
  const v = obj[field];
  if (!Array.isArray(v))
    throw new SignedMessageJsonError(`${field} must be an array of bytes`, {
      details: `got ${describe(v)}`,
    });
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const b: unknown = v[i];
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) {
      throw new SignedMessageJsonError(`${field}[${i}] is not a byte`, {
        details: `got ${describe(b)}`,
      });
    }
    out[i] = b;
  }
  return out;
}

function hexField(obj: Record<string, unknown>, field: string, length: number): Uint8Array {
  const v = obj[field];
  const bytes =
    typeof v === 'string' && v.startsWith('0x') && v.length === 2 + 2 * length
      ? hexToBytes(v.slice(2))
      : null;
  if (bytes === null) {
    throw new SignedMessageJsonError(`${field} must be "0x" + ${2 * length} hex digits`, {
      details: `got ${describe(v)}`,
    });
  }
  return bytes;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `array(${v.length})`;
  return v === null ? 'null' : typeof v === 'object' ? 'object' : String(v);
}
