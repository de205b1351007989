import type { ColumnValue } from '../types';
import { ASCII_TEXT_MAX, asciiText, OP_DELETE, OP_INSERT, OP_UPDATE, type Reader } from './reader';

// The one decoder of change records. The codec (decodeChangeset, iterateChangeset) and every
// path of the apply engine read changes and records through readChange and readRecord, so the
// same bytes give the same values and the same ChangesetFormatError wherever they are read. Two
// specialised readers sit beside it, each with the measurement that keeps it: readUpdateInto
// (read-update-into.ts) and scanRecordKeys (scan-record-keys.ts).

/**
 * Which record of a change is read. INSERT and DELETE records carry every column; an UPDATE
 * record leaves the columns it does not carry undefined.
 */
export type RecordKind = 'INSERT' | 'DELETE' | 'UPDATE';

/** A decoded change. The apply reuses one per table section: each read overwrites its arrays. */
export interface Change {
  /** OP_INSERT, OP_UPDATE or OP_DELETE. */
  op: number;
  indirect: boolean;
  /** Offset of the change's operation byte (where it can be read again). */
  start: number;
  /** old.* record (DELETE, changeset UPDATE). */
  oldValues: ColumnValue[];
  /** new.* record (INSERT, UPDATE; a patchset UPDATE carries its primary key here). */
  newValues: ColumnValue[];
  /** Wire type per old value, when wanted (the codec keeps INTEGER and REAL apart with it). */
  oldTypes: Uint8Array | undefined;
  /** Wire type per new value, when wanted. */
  newTypes: Uint8Array | undefined;
}

/** A change to read into, with room for `columns` values per record (and their types if `typed`). */
export function newChange(columns: number, typed = false): Change {
  return {
    op: 0,
    indirect: false,
    start: 0,
    oldValues: new Array(columns),
    newValues: new Array(columns),
    oldTypes: typed ? new Uint8Array(columns) : undefined,
    newTypes: typed ? new Uint8Array(columns) : undefined,
  };
}

/**
 * Reads the change at the cursor (operation byte, indirect flag, records) into ch and checks
 * what the format requires of each operation: INSERT and DELETE records are complete (a
 * patchset DELETE carries the primary key only), an UPDATE carries its primary key (in the old
 * record of a changeset, the new record of a patchset). The records keep their wire layout.
 * intBig: per column, 1 = INTEGERs as bigint (see readRecord); undefined for none.
 */
export function readChange(
  r: Reader,
  columns: number,
  pk: Uint8Array,
  patchset: boolean,
  ch: Change,
  intBig: Uint8Array | undefined,
): void {
  const start = r.pos;
  const op = r.buf[start]!;
  if (op !== OP_INSERT && op !== OP_UPDATE && op !== OP_DELETE)
    r.fail(`unknown operation 0x${op.toString(16)}`);
  ch.indirect = readIndirect(r);
  ch.op = op;
  ch.start = start;
  if (op === OP_INSERT) {
    readRecord(r, columns, 'INSERT', ch.newValues, 0, intBig, null, ch.newTypes);
  } else if (op === OP_DELETE) {
    if (patchset) readKeyRecord(r, columns, pk, ch.oldValues, intBig, ch.oldTypes);
    else readRecord(r, columns, 'DELETE', ch.oldValues, 0, intBig, null, ch.oldTypes);
  } else if (patchset) {
    const at = r.pos;
    readRecord(r, columns, 'UPDATE', ch.newValues, 0, intBig, null, ch.newTypes);
    for (let i = 0; i < columns; i++) {
      if (pk[i] !== 0 && ch.newValues[i] === undefined)
        r.fail('patchset UPDATE lacks a primary-key value', at);
    }
  } else {
    const at = r.pos;
    readRecord(r, columns, 'UPDATE', ch.oldValues, 0, intBig, null, ch.oldTypes);
    for (let i = 0; i < columns; i++) {
      if (pk[i] !== 0 && ch.oldValues[i] === undefined)
        r.fail('UPDATE old record lacks a primary-key value', at);
    }
    readRecord(r, columns, 'UPDATE', ch.newValues, 0, intBig, null, ch.newTypes);
  }
}

/**
 * Checks the indirect flag of the change whose operation byte is at the cursor and leaves the
 * cursor on its first record.
 */
export function readIndirect(r: Reader): boolean {
  const start = r.pos;
  if (start + 1 >= r.end) r.fail('truncated change header');
  const ind = r.buf[start + 1]!;
  if (ind > 1) r.fail(`indirect flag must be 0 or 1, got ${ind}`, start + 1);
  r.pos = start + 2;
  return ind === 1;
}

/** A patchset DELETE's record: the primary-key columns only; the others read as undefined. */
function readKeyRecord(
  r: Reader,
  columns: number,
  pk: Uint8Array,
  out: ColumnValue[],
  intBig: Uint8Array | undefined,
  types: Uint8Array | undefined,
): void {
  for (let i = 0; i < columns; i++) {
    if (pk[i] === 0) {
      out[i] = undefined;
      if (types !== undefined) types[i] = 0;
      continue;
    }
    const at = r.pos;
    const v = r.value(intBig !== undefined && intBig[i] === 1);
    if (v === undefined) r.fail('undefined value in DELETE record', at);
    out[i] = v;
    if (types !== undefined) types[i] = r.buf[at]!;
  }
}

/**
 * Reads one record of `columns` values at the cursor into out[offset + i].
 * - intBig: per column, 1 = INTEGERs as bigint. better-sqlite3 binds every JS number as REAL,
 *   so a column with TEXT or BLOB affinity must get its integers as bigint to store them as
 *   SQLite would. Elsewhere an INTEGER is a number when safe, else a bigint.
 * - nil: what NULL reads as: null, or NaN for values only bound by multi-row statements (see
 *   BOUND_NULL in apply/statements.ts).
 * - types: when given, receives each value's wire type at offset + i.
 */
export function readRecord(
  r: Reader,
  columns: number,
  record: RecordKind,
  out: ColumnValue[],
  offset: number,
  intBig: Uint8Array | undefined,
  nil: null | number,
  types: Uint8Array | undefined,
): void {
  const allowUndefined = record === 'UPDATE';
  const buf = r.buf;
  const end = r.end;
  let p = r.pos;
  for (let i = 0; i < columns; i++) {
    if (p >= end) r.fail('truncated record', p);
    const ty = buf[p]!;
    if (types !== undefined) types[offset + i] = ty;
    if (ty === 0 && allowUndefined) {
      out[offset + i] = undefined; // a column the UPDATE does not carry
      p++;
      continue;
    }
    const big = intBig !== undefined && intBig[i] === 1;
    const next = readCommonValue(r, p, ty, big, nil, out, offset + i);
    if (next >= 0) {
      p = next;
      continue;
    }
    r.pos = p;
    const v = r.value(big);
    if (v === undefined && !allowUndefined) r.fail(`undefined value in ${record} record`, p);
    out[offset + i] = v;
    p = r.pos;
  }
  r.pos = p;
}

/**
 * Decodes the value at p (wire type ty) into out[at] when it is one of the common cases, and
 * returns the position after it: an INTEGER whose high word shows it is a safe integer (as a
 * number; never when asBigint), a REAL, NULL (as nil), a TEXT or BLOB with a one-byte length
 * (ASCII text up to ASCII_TEXT_MAX bytes built in JS, see asciiText). Returns -1 for anything
 * else; Reader#value then reads it, and reports it when it is malformed. Every record loop (this
 * file's, readUpdateInto's, scanRecordKeys') decodes through it, without a Reader call each.
 */
export function readCommonValue(
  r: Reader,
  p: number,
  ty: number,
  asBigint: boolean,
  nil: null | number,
  out: ColumnValue[],
  at: number,
): number {
  const end = r.end;
  if (ty === 1) {
    if (asBigint || end - p < 9) return -1;
    const hi = r.view.getInt32(p + 1);
    if (hi <= -2097152 || hi >= 2097152) return -1;
    out[at] = hi * 4294967296 + r.view.getUint32(p + 5);
    return p + 9;
  }
  if (ty === 2) {
    if (end - p < 9) return -1;
    out[at] = r.view.getFloat64(p + 1);
    return p + 9;
  }
  if (ty === 5) {
    out[at] = nil;
    return p + 1;
  }
  if (ty !== 3 && ty !== 4) return -1;
  const buf = r.buf;
  const c = p + 1 < end ? buf[p + 1]! : 128;
  if (c >= 0x80 || end - p - 2 < c) return -1;
  if (ty === 4) {
    out[at] = r.blob(p + 2, c);
    return p + 2 + c;
  }
  const s = c <= ASCII_TEXT_MAX ? asciiText(buf, p + 2, c) : r.node.utf8Slice(p + 2, p + 2 + c);
  // non-ASCII short text, or U+FFFD (maybe invalid UTF-8): Reader#text decides
  if (s === undefined || (c > ASCII_TEXT_MAX && s.includes('\uFFFD'))) return -1;
  out[at] = s;
  return p + 2 + c;
}
