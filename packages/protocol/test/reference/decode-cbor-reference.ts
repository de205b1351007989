// The CBOR decoder as it was before its per-item costs were cut (issue 13), kept as the reference
// the current decoder is checked against (test/cbor-differential.test.ts). Not used at run time.
import {
  CborDecodeError,
  CborNestingDepthError,
  CborNonMinimalError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from '../../src/cbor/errors';
import type { CborMapEntry, CborMapKey, CborValue } from '../../src/cbor/value';

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
export function decodeCborReference(bytes: Uint8Array, options: DecodeCborOptions = {}): CborValue {
  const reader = new CborReader(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const value = reader.readItem(1);
  if (reader.offset !== bytes.length) {
    throw new TrailingBytesError(reader.offset, bytes.length - reader.offset);
  }
  return value;
}

class CborReader {
  offset = 0;
  private readonly view: DataView;

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

  /** Reads a head; returns the major type and the argument (minimal encoding enforced). */
  private readHead(): { major: number; arg: bigint } {
    const start = this.offset;
    this.need(start, 1);
    const initial = this.bytes[this.offset++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) {
      if (initial === 0xf6) return { major, arg: 0n };
      throw new CborUnsupportedItemError(start, describeSimple(info));
    }
    if (major === 6) throw new CborUnsupportedItemError(start, 'tag');
    if (info < 24) return { major, arg: BigInt(info) };
    if (info === 31) throw new CborUnsupportedItemError(start, 'indefinite length');
    if (info > 27) throw new CborDecodeError(`reserved additional information ${info}`, start);
    const size = 1 << (info - 24);
    this.need(start, size);
    let arg: bigint;
    let minimum: bigint;
    if (size === 1) {
      arg = BigInt(this.view.getUint8(this.offset));
      minimum = 24n;
    } else if (size === 2) {
      arg = BigInt(this.view.getUint16(this.offset));
      minimum = 0x100n;
    } else if (size === 4) {
      arg = BigInt(this.view.getUint32(this.offset));
      minimum = 0x1_0000n;
    } else {
      arg = this.view.getBigUint64(this.offset);
      minimum = 0x1_0000_0000n;
    }
    this.offset += size;
    if (arg < minimum) throw new CborNonMinimalError(start);
    return { major, arg };
  }

  readItem(depth: number): CborValue {
    const start = this.offset;
    const { major, arg } = this.readHead();
    switch (major) {
      case 0:
        return { kind: 'uint', value: arg, start, end: this.offset };
      case 1:
        return { kind: 'nint', value: -1n - arg, start, end: this.offset };
      case 2: {
        const value = this.readSpan(start, arg);
        return { kind: 'bytes', value, start, end: this.offset };
      }
      case 3: {
        const span = this.readSpan(start, arg);
        let value: string;
        try {
          value = utf8.decode(span);
        } catch (cause) {
          throw new CborDecodeError('text string is not valid UTF-8', start, String(cause));
        }
        return { kind: 'text', value, start, end: this.offset };
      }
      case 4: {
        if (depth > this.maxDepth) throw new CborNestingDepthError(start, this.maxDepth);
        // Every item takes at least one byte, so a count above the remaining bytes is a lie.
        if (arg > BigInt(this.remaining)) {
          throw new CborUnexpectedEndError(start, arg, this.remaining);
        }
        const items: CborValue[] = [];
        for (let i = 0n; i < arg; i++) items.push(this.readItem(depth + 1));
        return { kind: 'array', items, start, end: this.offset };
      }
      case 5: {
        if (depth > this.maxDepth) throw new CborNestingDepthError(start, this.maxDepth);
        const minBytes = arg * 2n;
        if (minBytes > BigInt(this.remaining)) {
          throw new CborUnexpectedEndError(start, minBytes, this.remaining);
        }
        return this.readMapEntries(start, Number(arg), depth);
      }
      case 7:
        return { kind: 'null', start, end: this.offset };
      default:
        throw new CborDecodeError(`unexpected major type ${major}`, start);
    }
  }

  private readMapEntries(start: number, count: number, depth: number): CborValue {
    const entries: CborMapEntry[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const keyStart = this.offset;
      const key = this.readItem(depth + 1);
      if (key.kind !== 'uint' && key.kind !== 'nint' && key.kind !== 'text') {
        throw new CborUnsupportedItemError(keyStart, `map key of kind ${key.kind}`);
      }
      const identity = mapKeyIdentity(key);
      if (seen.has(identity)) throw new DuplicateMapKeyError(keyStart, identity);
      seen.add(identity);
      entries.push({ key, value: this.readItem(depth + 1) });
    }
    return { kind: 'map', entries, start, end: this.offset };
  }

  private readSpan(start: number, length: bigint): Uint8Array {
    if (length > BigInt(this.remaining)) {
      throw new CborUnexpectedEndError(start, length, this.remaining);
    }
    const n = Number(length);
    const span = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return span;
  }
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
