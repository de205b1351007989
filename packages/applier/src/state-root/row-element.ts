import { isUtf8 } from 'node:buffer';
import type { Reader } from '../changeset/reader';
import type { SqlValue } from '../types';
import { ValueType } from '../types';

const DOMAIN = new TextEncoder().encode('synddb/state-row/v1\0');
const utf8 = new TextEncoder();
const TWO_32 = 4294967296;

/**
 * Builds the canonical bytes of one row element `(table, row)`:
 *
 *   "synddb/state-row/v1\0" || u32be len || lowercase(table) utf-8 || u32be columns ||
 *   per column: 0x01 int64be | 0x02 float64be (-0.0 as +0.0) | 0x03 u32be len utf-8 |
 *               0x04 u32be len bytes | 0x05 (NULL)
 *
 * The primary key is part of the row, so the element is `(table, primary key, row)`. One writer
 * is reused per thread; `finish()` returns a view valid until the next `begin()`. The encoded
 * prefix (domain and table name) is kept for the last table, so rows of one table encode their
 * name once.
 */
export class RowElementWriter {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  #table: string | undefined;
  #prefix = new Uint8Array(0);

  begin(table: string, columns: number): void {
    if (table !== this.#table) {
      const name = utf8.encode(asciiLower(table));
      const prefix = new Uint8Array(DOMAIN.byteLength + 4 + name.byteLength);
      prefix.set(DOMAIN);
      new DataView(prefix.buffer).setUint32(DOMAIN.byteLength, name.byteLength);
      prefix.set(name, DOMAIN.byteLength + 4);
      this.#prefix = prefix;
      this.#table = table;
    }
    this.#pos = 0;
    this.#bytes(this.#prefix);
    this.#u32(columns);
  }

  /** A value with its storage class (ValueType); INTEGER may be number or bigint. */
  value(type: number, v: SqlValue | undefined): void {
    switch (type) {
      case ValueType.Integer:
        this.#ensure(9);
        this.#buf[this.#pos++] = 1;
        if (typeof v === 'number' && Number.isSafeInteger(v)) {
          // the int64's two words without a BigInt: exact for |v| <= 2^53 - 1
          const hi = Math.floor(v / TWO_32);
          this.#view.setInt32(this.#pos, hi);
          this.#view.setUint32(this.#pos + 4, v - hi * TWO_32);
        } else {
          this.#view.setBigInt64(this.#pos, typeof v === 'bigint' ? v : BigInt(v as number));
        }
        this.#pos += 8;
        return;
      case ValueType.Real: {
        this.#ensure(9);
        this.#buf[this.#pos++] = 2;
        const x = v as number;
        this.#view.setFloat64(this.#pos, x === 0 ? 0 : x);
        this.#pos += 8;
        return;
      }
      case ValueType.Text: {
        // UTF-8 straight into the buffer (at most 3 bytes per UTF-16 unit), the length after
        const text = v as string;
        this.#ensure(5 + 3 * text.length);
        const buf = this.#buf;
        const start = this.#pos + 5;
        let n = 0;
        for (; n < text.length; n++) {
          const c = text.charCodeAt(n);
          if (c >= 0x80) break;
          buf[start + n] = c;
        }
        if (n < text.length) {
          n = utf8.encodeInto(text, buf.subarray(start)).written;
        }
        buf[this.#pos] = 3;
        this.#view.setUint32(this.#pos + 1, n);
        this.#pos = start + n;
        return;
      }
      case ValueType.Blob: {
        const bytes = v as Uint8Array;
        this.#ensure(5 + bytes.byteLength);
        this.#buf[this.#pos++] = 4;
        this.#u32(bytes.byteLength);
        this.#bytes(bytes);
        return;
      }
      case ValueType.Null:
        this.#ensure(1);
        this.#buf[this.#pos++] = 5;
        return;
      default:
        throw new TypeError(`a row element needs every column's value (type ${type})`);
    }
  }

  /** A value read from SQLite with safeIntegers (INTEGER as bigint, REAL as number). */
  storedValue(v: unknown): void {
    if (v === null) this.value(ValueType.Null, null);
    else if (typeof v === 'bigint') this.value(ValueType.Integer, v);
    else if (typeof v === 'number') this.value(ValueType.Real, v);
    else if (typeof v === 'string') this.value(ValueType.Text, v);
    else if (v instanceof Uint8Array) this.value(ValueType.Blob, v);
    else throw new TypeError(`unexpected SQLite value ${typeof v}`);
  }

  /**
   * Appends a changeset record's `columns` values straight from their wire bytes at `p` (an
   * INSERT's new record or a DELETE's old one; `r` is the changeset's Reader). The wire format
   * has the element's type bytes; INTEGER and NULL are copied as they are, a REAL is written as
   * `value()` writes it, TEXT and BLOB get a u32be length instead of the varint (TEXT after a
   * UTF-8 check: decoding then encoding valid UTF-8 gives the same bytes). Returns the position
   * after the record, or -1 when a value is anything else (undefined, an unknown type, invalid
   * UTF-8, truncated): the caller then takes the decoding path, which reports it.
   */
  rawRecord(r: Reader, p: number, columns: number): number {
    for (let i = 0; i < columns && p >= 0; i++) p = this.rawValue(r, p);
    return p;
  }

  /**
   * Appends the one value at `p` straight from its wire bytes, as `rawRecord` does each of a
   * record's; returns the position after it, or -1 (see rawRecord).
   */
  rawValue(r: Reader, p: number): number {
    const src = r.buf;
    const end = r.end;
    if (p >= end) return -1;
    const t = src[p]!;
    if (t === ValueType.Integer) {
      if (end - p < 9) return -1;
      this.#ensure(9);
      const buf = this.#buf;
      const at = this.#pos;
      for (let k = 0; k < 9; k++) buf[at + k] = src[p + k]!;
      this.#pos = at + 9;
      return p + 9;
    }
    if (t === ValueType.Real) {
      if (end - p < 9) return -1;
      this.#ensure(9);
      const x = r.view.getFloat64(p + 1);
      this.#buf[this.#pos] = 2;
      this.#view.setFloat64(this.#pos + 1, x === 0 ? 0 : x);
      this.#pos += 9;
      return p + 9;
    }
    if (t === ValueType.Text || t === ValueType.Blob) {
      let n: number;
      let s: number;
      if (p + 1 < end && src[p + 1]! < 0x80) {
        n = src[p + 1]!;
        s = p + 2;
      } else {
        r.pos = p + 1;
        n = r.varint();
        s = r.pos;
      }
      if (n > end - s) return -1;
      if (t === ValueType.Text) {
        let or = 0;
        for (let k = s; k < s + n; k++) or |= src[k]!;
        if (or >= 0x80 && !isUtf8(src.subarray(s, s + n))) return -1;
      }
      this.#ensure(5 + n);
      const buf = this.#buf;
      const at = this.#pos;
      buf[at] = t;
      this.#view.setUint32(at + 1, n);
      if (n <= 32) for (let k = 0; k < n; k++) buf[at + 5 + k] = src[s + k]!;
      else buf.set(src.subarray(s, s + n), at + 5);
      this.#pos = at + 5 + n;
      return s + n;
    }
    if (t === ValueType.Null) {
      this.#ensure(1);
      this.#buf[this.#pos++] = 5;
      return p + 1;
    }
    return -1;
  }

  /** Appends bytes already in element form (e.g. a column of another element). */
  encoded(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.#ensure(n);
    if (n <= 32) for (let k = 0; k < n; k++) this.#buf[this.#pos + k] = bytes[start + k]!;
    else this.#buf.set(bytes.subarray(start, end), this.#pos);
    this.#pos += n;
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  #u32(n: number): void {
    this.#ensure(4);
    this.#view.setUint32(this.#pos, n);
    this.#pos += 4;
  }

  #bytes(b: Uint8Array): void {
    this.#ensure(b.byteLength);
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

/** SQLite folds identifier case for ASCII letters only. */
export function asciiLower(name: string): string {
  return name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** Tables whose content is not part of the state: SQLite's own and the validator's bookkeeping. */
export function isStateTable(name: string): boolean {
  const lower = asciiLower(name);
  return !lower.startsWith('sqlite_') && !lower.startsWith('_synddb_');
}

/**
 * The start of each column's value in the element (`RowElementWriter` output) of `columns`
 * columns at `start` in `bytes`, into `offsets[0..columns-1]`, and the element's end in
 * `offsets[columns]`.
 */
export function elementColumnOffsets(
  bytes: Uint8Array,
  start: number,
  columns: number,
  offsets: Int32Array,
): void {
  const u32 = (p: number) =>
    ((bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 0;
  let p = start + DOMAIN.byteLength;
  p += 4 + u32(p) + 4; // the table name, the column count
  for (let i = 0; i < columns; i++) {
    offsets[i] = p;
    const t = bytes[p]!;
    if (t === 1 || t === 2) p += 9;
    else if (t === 3 || t === 4) p += 5 + u32(p + 1);
    else p += 1;
  }
  offsets[columns] = p;
}
