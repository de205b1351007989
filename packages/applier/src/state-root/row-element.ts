import type { SqlValue } from '../types';
import { ValueType } from '../types';

const DOMAIN = new TextEncoder().encode('synddb/state-row/v1\0');
const utf8 = new TextEncoder();

/**
 * Builds the canonical bytes of one row element `(table, row)`:
 *
 *   "synddb/state-row/v1\0" || u32be len || lowercase(table) utf-8 || u32be columns ||
 *   per column: 0x01 int64be | 0x02 float64be (-0.0 as +0.0) | 0x03 u32be len utf-8 |
 *               0x04 u32be len bytes | 0x05 (NULL)
 *
 * The primary key is part of the row, so the element is `(table, primary key, row)`. One writer
 * is reused per thread; `finish()` returns a view valid until the next `begin()`.
 */
export class RowElementWriter {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  begin(table: string, columns: number): void {
    this.#pos = 0;
    this.#bytes(DOMAIN);
    const name = utf8.encode(asciiLower(table));
    this.#u32(name.byteLength);
    this.#bytes(name);
    this.#u32(columns);
  }

  /** A value with its storage class (ValueType); INTEGER may be number or bigint. */
  value(type: number, v: SqlValue | undefined): void {
    switch (type) {
      case ValueType.Integer:
        this.#ensure(9);
        this.#buf[this.#pos++] = 1;
        this.#view.setBigInt64(this.#pos, typeof v === 'bigint' ? v : BigInt(v as number));
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
        const bytes = utf8.encode(v as string);
        this.#ensure(5 + bytes.byteLength);
        this.#buf[this.#pos++] = 3;
        this.#u32(bytes.byteLength);
        this.#bytes(bytes);
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
