import {
  CborDecodeError,
  CborNestingDepthError,
  CborNonMinimalError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from './errors';
import type { CborMapEntry, CborMapKey, CborValue } from './value';

export interface DecodeCborOptions {
  /** Maximum nesting of arrays/maps (the top-level item is depth 1). Default 16. */
  maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes exactly one CBOR item spanning all of `bytes` (trailing bytes are an error).
 *
 * Strict by design: definite lengths only, minimal heads only (the Rust writer never emits
 * anything else), no tags, no floats or simple values except `null`, map keys only ints or text,
 * no duplicate keys, bounded depth. Every declared length is checked against the remaining input
 * before anything is allocated. Byte strings are returned as views into `bytes`, not copies.
 */
export function decodeCbor(bytes: Uint8Array, options: DecodeCborOptions = {}): CborValue {
  const reader = new CborReader(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const value = reader.readItem(1);
  if (reader.offset !== bytes.length) {
    throw new TrailingBytesError(reader.offset, bytes.length - reader.offset);
  }
  return value;
}

/** Maps up to this many entries check duplicate keys by a scan instead of a Set of key strings. */
const SCAN_DUPLICATES_UP_TO = 16;

class CborReader {
  offset = 0;
  private readonly view: DataView;
  /** Major type of the head `readHead` read last. */
  private major = 0;
  /** Its argument: a number, or a bigint for an 8-byte argument (which may exceed 2^53). */
  private arg: number | bigint = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(start: number, count: number): void {
    if (count > this.remaining) throw new CborUnexpectedEndError(start, count, this.remaining);
  }

  /** Reads a head into `major` and `arg` (minimal encoding enforced). */
  private readHead(): void {
    const start = this.offset;
    this.need(start, 1);
    const bytes = this.bytes;
    const initial = bytes[this.offset++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    this.major = major;
    if (major === 7) {
      if (initial === 0xf6) {
        this.arg = 0;
        return;
      }
      throw new CborUnsupportedItemError(start, describeSimple(info));
    }
    if (major === 6) throw new CborUnsupportedItemError(start, 'tag');
    if (info < 24) {
      this.arg = info;
      return;
    }
    if (info === 31) throw new CborUnsupportedItemError(start, 'indefinite length');
    if (info > 27) throw new CborDecodeError(`reserved additional information ${info}`, start);
    const size = 1 << (info - 24);
    this.need(start, size);
    const at = this.offset;
    let arg: number | bigint;
    let minimal: boolean;
    if (size === 1) {
      arg = bytes[at]!;
      minimal = arg >= 24;
    } else if (size === 2) {
      arg = (bytes[at]! << 8) | bytes[at + 1]!;
      minimal = arg >= 0x100;
    } else if (size === 4) {
      arg = this.view.getUint32(at);
      minimal = arg >= 0x1_0000;
    } else {
      arg = this.view.getBigUint64(at);
      minimal = arg >= 0x1_0000_0000n;
    }
    this.offset += size;
    if (!minimal) throw new CborNonMinimalError(start);
    this.arg = arg;
  }

  readItem(depth: number): CborValue {
    const start = this.offset;
    this.readHead();
    const arg = this.arg;
    switch (this.major) {
      case 0:
        return { kind: 'uint', value: BigInt(arg), start, end: this.offset };
      case 1:
        return { kind: 'nint', value: -1n - BigInt(arg), start, end: this.offset };
      case 2: {
        const value = this.readSpan(start, arg);
        return { kind: 'bytes', value, start, end: this.offset };
      }
      case 3: {
        const span = this.readSpan(start, arg);
        let value: string;
        try {
          value = decodeUtf8(span);
        } catch (cause) {
          throw new CborDecodeError('text string is not valid UTF-8', start, String(cause));
        }
        return { kind: 'text', value, start, end: this.offset };
      }
      case 4: {
        if (depth > this.maxDepth) throw new CborNestingDepthError(start, this.maxDepth);
        // Every item takes at least one byte, so a count above the remaining bytes is a lie.
        if (arg > this.remaining) {
          throw new CborUnexpectedEndError(start, arg, this.remaining);
        }
        const count = Number(arg);
        const items: CborValue[] = [];
        for (let i = 0; i < count; i++) items.push(this.readItem(depth + 1));
        return { kind: 'array', items, start, end: this.offset };
      }
      case 5: {
        if (depth > this.maxDepth) throw new CborNestingDepthError(start, this.maxDepth);
        const minBytes = typeof arg === 'bigint' ? arg * 2n : arg * 2;
        if (minBytes > this.remaining) {
          throw new CborUnexpectedEndError(start, minBytes, this.remaining);
        }
        return this.readMapEntries(start, Number(arg), depth);
      }
      case 7:
        return { kind: 'null', start, end: this.offset };
      default:
        throw new CborDecodeError(`unexpected major type ${this.major}`, start);
    }
  }

  private readMapEntries(start: number, count: number, depth: number): CborValue {
    const entries: CborMapEntry[] = [];
    const seen = count > SCAN_DUPLICATES_UP_TO ? new Set<string>() : undefined;
    for (let i = 0; i < count; i++) {
      const keyStart = this.offset;
      const key = this.readItem(depth + 1);
      if (key.kind !== 'uint' && key.kind !== 'nint' && key.kind !== 'text') {
        throw new CborUnsupportedItemError(keyStart, `map key of kind ${key.kind}`);
      }
      if (seen === undefined) {
        // Same identity as mapKeyIdentity: uint and nint values never coincide.
        for (const e of entries) {
          if (e.key.value === key.value && (e.key.kind === 'text') === (key.kind === 'text')) {
            throw new DuplicateMapKeyError(keyStart, mapKeyIdentity(key));
          }
        }
      } else {
        const identity = mapKeyIdentity(key);
        if (seen.has(identity)) throw new DuplicateMapKeyError(keyStart, identity);
        seen.add(identity);
      }
      entries.push({ key, value: this.readItem(depth + 1) });
    }
    return { kind: 'map', entries, start, end: this.offset };
  }

  private readSpan(start: number, length: number | bigint): Uint8Array {
    if (length > this.remaining) {
      throw new CborUnexpectedEndError(start, length, this.remaining);
    }
    const n = Number(length);
    const span = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return span;
  }
}

/**
 * Strict UTF-8; short ASCII strings (map keys, ids) without a TextDecoder call, which costs more
 * than the whole string on the few-byte keys of every message.
 */
function decodeUtf8(span: Uint8Array): string {
  if (span.length <= 32) {
    let text = '';
    for (let i = 0; i < span.length; i++) {
      const c = span[i]!;
      if (c > 0x7f) return utf8.decode(span);
      text += String.fromCharCode(c);
    }
    return text;
  }
  return utf8.decode(span);
}

function mapKeyIdentity(key: CborMapKey): string {
  return key.kind === 'text' ? `text ${JSON.stringify(key.value)}` : `int ${key.value}`;
}

function describeSimple(info: number): string {
  if (info === 20 || info === 21) return 'boolean';
  if (info === 23) return 'undefined';
  if (info >= 25 && info <= 27) return 'float';
  if (info === 31) return 'break';
  return `simple value ${info}`;
}
