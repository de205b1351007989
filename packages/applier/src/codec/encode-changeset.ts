import {
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from '../changeset/reader';
import { type Changeset, type ColumnValue, ValueType } from '../types';

class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  varint(v: number): void {
    if (v < 0x80) {
      this.byte(v);
      return;
    }
    // SQLite varint for values below 2^56: big-endian 7-bit groups.
    const groups: number[] = [];
    let x = v;
    while (x > 0) {
      groups.push(x % 128);
      x = Math.floor(x / 128);
    }
    this.ensure(groups.length);
    for (let i = groups.length - 1; i >= 0; i--)
      this.buf[this.pos++] = groups[i]! | (i > 0 ? 0x80 : 0);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

const textEncoder = new TextEncoder();

function inferType(v: ColumnValue): number {
  if (v === undefined) return ValueType.Undefined;
  if (v === null) return ValueType.Null;
  switch (typeof v) {
    case 'bigint':
      return ValueType.Integer;
    case 'number':
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? ValueType.Integer : ValueType.Real;
    case 'string':
      return ValueType.Text;
    default:
      if (v instanceof Uint8Array) return ValueType.Blob;
      throw new TypeError(`not an SQLite value: ${String(v)}`);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function writeValue(w: Writer, v: ColumnValue, type: number): void {
  switch (type) {
    case ValueType.Undefined:
      if (v !== undefined) throw new TypeError('value given for an undefined column');
      w.byte(0);
      return;
    case ValueType.Null:
      if (v !== null) throw new TypeError('NULL column holds a value');
      w.byte(5);
      return;
    case ValueType.Integer: {
      let big: bigint;
      if (typeof v === 'bigint') big = v;
      else if (typeof v === 'number' && Number.isInteger(v)) big = BigInt(v);
      else throw new TypeError(`INTEGER column holds ${String(v)}`);
      if (big < INT64_MIN || big > INT64_MAX) throw new RangeError(`integer ${big} outside int64`);
      w.byte(1);
      w.ensure(8);
      w.view.setBigInt64(w.pos, big);
      w.pos += 8;
      return;
    }
    case ValueType.Real:
      if (typeof v !== 'number') throw new TypeError(`REAL column holds ${String(v)}`);
      w.byte(2);
      w.ensure(8);
      w.view.setFloat64(w.pos, v);
      w.pos += 8;
      return;
    case ValueType.Text: {
      if (typeof v !== 'string') throw new TypeError('TEXT column holds a non-string');
      const bytes = textEncoder.encode(v);
      w.byte(3);
      w.varint(bytes.length);
      w.bytes(bytes);
      return;
    }
    case ValueType.Blob:
      if (!(v instanceof Uint8Array)) throw new TypeError('BLOB column holds a non-Uint8Array');
      w.byte(4);
      w.varint(v.length);
      w.bytes(v);
      return;
    default:
      throw new TypeError(`unknown value type ${type}`);
  }
}

function writeRecord(
  w: Writer,
  values: ColumnValue[] | undefined,
  types: Uint8Array | undefined,
  nCol: number,
  pkOnly: readonly number[] | undefined,
): void {
  if (!values || values.length !== nCol) throw new TypeError(`record must have ${nCol} values`);
  for (let i = 0; i < nCol; i++) {
    if (pkOnly !== undefined && pkOnly[i] === 0) continue;
    const v = values[i];
    const t = types && types.length === nCol ? types[i]! : inferType(v);
    writeValue(
      w,
      v,
      t === ValueType.Integer && typeof v === 'number' && !Number.isInteger(v) ? inferType(v) : t,
    );
  }
}

/** Encodes a Changeset; decode → encode reproduces the input bytes exactly. */
export function encodeChangeset(cs: Changeset): Uint8Array {
  const w = new Writer();
  for (const t of cs.tables) {
    if (t.primaryKey.length !== t.columnCount)
      throw new TypeError('primaryKey must have one flag per column');
    w.byte(cs.patchset ? TABLE_PATCHSET : TABLE_CHANGESET);
    w.varint(t.columnCount);
    for (const f of t.primaryKey) w.byte(f);
    const name = textEncoder.encode(t.name);
    if (name.includes(0)) throw new TypeError('table name contains NUL');
    w.bytes(name);
    w.byte(0);
    for (const c of t.changes) {
      w.byte(c.op === 'INSERT' ? OP_INSERT : c.op === 'UPDATE' ? OP_UPDATE : OP_DELETE);
      w.byte(c.indirect ? 1 : 0);
      if (c.op === 'INSERT') writeRecord(w, c.newValues, c.newTypes, t.columnCount, undefined);
      else if (c.op === 'DELETE') {
        writeRecord(
          w,
          c.oldValues,
          c.oldTypes,
          t.columnCount,
          cs.patchset ? t.primaryKey : undefined,
        );
      } else {
        if (!cs.patchset) writeRecord(w, c.oldValues, c.oldTypes, t.columnCount, undefined);
        writeRecord(w, c.newValues, c.newTypes, t.columnCount, undefined);
      }
    }
  }
  return w.finish();
}
