import { ChangesetFormatError } from '../errors';
import { type ColumnValue, ValueType } from '../types';

/** Operation bytes of a change and marker bytes of a table header. */
export const OP_INSERT = 0x12;
export const OP_UPDATE = 0x17;
export const OP_DELETE = 0x09;
export const TABLE_CHANGESET = 0x54; // 'T'
export const TABLE_PATCHSET = 0x50; // 'P'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const TWO_32 = 4294967296;

const fcc = String.fromCharCode;
/** Longest TEXT that asciiText builds in JS. */
export const ASCII_TEXT_MAX = 20;

/**
 * A short ASCII TEXT value (bytes s..s+l, l <= ASCII_TEXT_MAX) as a string, or undefined when a
 * byte is not ASCII. String.fromCharCode with one argument per byte is about twice as fast as a
 * Buffer#utf8Slice call for such strings, the common case of replicated rows.
 */
export function asciiText(b: Uint8Array, s: number, l: number): string | undefined {
  let or = 0;
  for (let k = s; k < s + l; k++) or |= b[k]!;
  if (or >= 0x80) return undefined;
  // biome-ignore format: one argument per byte, one line per length
  switch (l) {
    case 0: return '';
    case 1: return fcc(b[s]!);
    case 2: return fcc(b[s]!, b[s + 1]!);
    case 3: return fcc(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    case 12: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
    case 13: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!);
    case 14: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!);
    case 15: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!);
    case 16: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!);
    case 17: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!);
    case 18: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!);
    case 19: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!);
    case 20: return fcc(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!);
    default:
      return undefined;
  }
}

/** Cursor over a changeset buffer. All reads are bounds-checked and throw ChangesetFormatError. */
export class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly node: Buffer & { utf8Slice(start: number, end: number): string };
  pos = 0;
  readonly end: number;
  readonly ab: ArrayBufferLike;
  readonly byteOffset: number;
  /**
   * The input is a plain Uint8Array: a BLOB value is then made as a view of its ArrayBuffer
   * directly, which is what subarray returns for it without subarray's constructor lookup. Any
   * other class (a Buffer) gets subarray, so a BLOB keeps the input's class.
   */
  readonly plain: boolean;

  constructor(buf: Uint8Array) {
    if (!(buf instanceof Uint8Array)) throw new TypeError('changeset must be a Uint8Array');
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.node = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength) as Reader['node'];
    this.end = buf.byteLength;
    this.ab = buf.buffer;
    this.byteOffset = buf.byteOffset;
    this.plain = Object.getPrototypeOf(buf) === Uint8Array.prototype;
  }

  fail(message: string, offset = this.pos): never {
    throw new ChangesetFormatError(message, offset);
  }

  /** SQLite varint (1–9 bytes, big-endian 7-bit groups, the 9th byte holds 8 bits). */
  varint(): number {
    const b = this.buf;
    const start = this.pos;
    let p = start;
    if (p >= this.end) this.fail('truncated varint');
    let c = b[p++]!;
    if (c < 0x80) {
      this.pos = p;
      return c;
    }
    let v = c & 0x7f;
    for (let i = 1; i < 9; i++) {
      if (p >= this.end) this.fail('truncated varint', start);
      c = b[p++]!;
      if (i === 8) {
        v = v * 256 + c;
        break;
      }
      v = v * 128 + (c & 0x7f);
      if (c < 0x80) break;
    }
    if (v > Number.MAX_SAFE_INTEGER) this.fail('varint out of range', start);
    this.pos = p;
    return v;
  }

  /** A byte length that must fit in the remaining input. */
  length(): number {
    const start = this.pos;
    const n = this.varint();
    if (n > this.end - this.pos)
      this.fail(`length ${n} exceeds the remaining ${this.end - this.pos} bytes`, start);
    return n;
  }

  text(start: number, end: number): string {
    if (end - start <= ASCII_TEXT_MAX) {
      const a = asciiText(this.buf, start, end - start);
      if (a !== undefined) return a;
    }
    // Buffer#utf8Slice (what toString('utf8') calls after checking its arguments) beats a
    // String.fromCharCode loop even for short ASCII strings. Invalid UTF-8 decodes to U+FFFD,
    // which a valid encoding of U+FFFD also does: only then validate strictly.
    const s = this.node.utf8Slice(start, end);
    if (s.includes('\uFFFD')) {
      try {
        strictUtf8.decode(this.buf.subarray(start, end));
      } catch {
        this.fail('TEXT value is not valid UTF-8', start);
      }
    }
    return s;
  }

  /** Reads the 8-byte big-endian int64 at the cursor: number when safe, else bigint. */
  int64(bigAlways: boolean): number | bigint {
    const p = this.pos;
    if (this.end - p < 8) this.fail('truncated INTEGER value');
    this.pos = p + 8;
    const hi = this.view.getInt32(p);
    const lo = this.view.getUint32(p + 4);
    if (!bigAlways && hi >= -2097152 && hi < 2097152 && !(hi === -2097152 && lo === 0)) {
      return hi * TWO_32 + lo;
    }
    return this.view.getBigInt64(p);
  }

  /** A view of the n bytes at start (a BLOB value). */
  blob(start: number, n: number): Uint8Array {
    return this.plain
      ? new Uint8Array(this.ab, this.byteOffset + start, n)
      : this.buf.subarray(start, start + n);
  }

  /**
   * Reads one value. intAsBigint: return INTEGERs as bigint (needed to bind them
   * as integers with better-sqlite3, which binds every JS number as REAL).
   */
  value(intAsBigint: boolean): ColumnValue {
    const p = this.pos;
    if (p >= this.end) this.fail('truncated record');
    const t = this.buf[p]!;
    this.pos = p + 1;
    switch (t) {
      case ValueType.Undefined:
        return undefined;
      case ValueType.Integer:
        return this.int64(intAsBigint);
      case ValueType.Real: {
        if (this.end - this.pos < 8) this.fail('truncated REAL value');
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case ValueType.Text: {
        const n = this.length();
        const s = this.pos;
        this.pos = s + n;
        return this.text(s, s + n);
      }
      case ValueType.Blob: {
        const n = this.length();
        const s = this.pos;
        this.pos = s + n;
        return this.blob(s, n);
      }
      case ValueType.Null:
        return null;
      default:
        return this.fail(`unknown value type 0x${t.toString(16)}`, p);
    }
  }

  /** Skips one value without materialising or validating it (a later decode validates). */
  skipRaw(): void {
    const p = this.pos;
    if (p >= this.end) this.fail('truncated record');
    const t = this.buf[p]!;
    this.pos = p + 1;
    if (t === ValueType.Integer || t === ValueType.Real) {
      if (this.end - this.pos < 8) this.fail('truncated numeric value');
      this.pos += 8;
    } else if (t === ValueType.Text || t === ValueType.Blob) {
      const len = this.length();
      this.pos += len;
    } else if (t !== ValueType.Undefined && t !== ValueType.Null) {
      this.fail(`unknown value type 0x${t.toString(16)}`, p);
    }
  }
}
