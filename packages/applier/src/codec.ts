import { ChangesetFormatError } from './errors';
import {
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  pkColumnOrder,
  Reader,
  readTableHeader,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from './reader';
import {
  type ChangeOp,
  type Changeset,
  type ChangesetChange,
  type ChangesetSummary,
  type ChangesetTable,
  type ChangesetTableSummary,
  type ColumnValue,
  type SqlValue,
  ValueType,
} from './types';

export interface DecodeOptions {
  /** Expect a patchset ('P' headers). Default: taken from the first table header. */
  patchset?: boolean;
}

/** One change as yielded by iterateChangeset, with its table. */
export interface ChangesetEntry {
  table: ChangesetTable;
  change: ChangesetChange;
}

function opName(op: number): ChangeOp {
  return op === OP_INSERT ? 'INSERT' : op === OP_UPDATE ? 'UPDATE' : 'DELETE';
}

function readRecord(
  r: Reader,
  nCol: number,
  pkOnly: Uint8Array | undefined,
  allowUndefined: boolean,
  what: string,
): { values: ColumnValue[]; types: Uint8Array } {
  const values: ColumnValue[] = new Array(nCol);
  const types = new Uint8Array(nCol);
  for (let i = 0; i < nCol; i++) {
    if (pkOnly !== undefined && pkOnly[i] === 0) {
      values[i] = undefined;
      continue;
    }
    const at = r.pos;
    values[i] = r.value(false);
    types[i] = r.lastType;
    if (r.lastType === ValueType.Undefined && !allowUndefined) {
      r.fail(`undefined value in ${what} record`, at);
    }
  }
  return { values, types };
}

type RawEntry = { table: ChangesetTable; change: ChangesetChange | undefined };

/** Core parser: yields each table header (change undefined) and each change. */
function* iterateRaw(buf: Uint8Array, opts: DecodeOptions): Generator<RawEntry> {
  const r: Reader = new Reader(buf);
  let expectPatchset = opts.patchset;
  let table: ChangesetTable | undefined;
  let pkFlags: Uint8Array = new Uint8Array(0);
  while (r.pos < r.end) {
    const b = r.buf[r.pos]!;
    if (b === TABLE_CHANGESET || b === TABLE_PATCHSET) {
      const h = readTableHeader(r, expectPatchset);
      expectPatchset = h.patchset;
      pkFlags = h.pkFlags;
      table = {
        name: h.name,
        columnCount: h.columnCount,
        primaryKey: Array.from(h.pkFlags),
        changes: [],
      };
      yield { table, change: undefined };
      continue;
    }
    if (table === undefined) r.fail(`expected a table header, got 0x${b.toString(16)}`);
    if (b !== OP_INSERT && b !== OP_UPDATE && b !== OP_DELETE)
      r.fail(`unknown operation 0x${b.toString(16)}`);
    if (r.pos + 1 >= r.end) r.fail('truncated change header');
    const ind = r.buf[r.pos + 1]!;
    if (ind > 1) r.fail(`indirect flag must be 0 or 1, got ${ind}`, r.pos + 1);
    r.pos += 2;
    const patchset = expectPatchset === true;
    const n = table.columnCount;
    const change: ChangesetChange = {
      op: opName(b),
      indirect: ind === 1,
      oldValues: undefined,
      newValues: undefined,
    };
    if (b === OP_INSERT) {
      const rec = readRecord(r, n, undefined, false, 'INSERT');
      change.newValues = rec.values;
      change.newTypes = rec.types;
    } else if (b === OP_DELETE) {
      const rec = readRecord(r, n, patchset ? pkFlags : undefined, false, 'DELETE');
      change.oldValues = rec.values;
      change.oldTypes = rec.types;
    } else {
      if (!patchset) {
        const at = r.pos;
        const rec = readRecord(r, n, undefined, true, 'UPDATE');
        for (let i = 0; i < n; i++) {
          if (pkFlags[i] !== 0 && rec.types[i] === ValueType.Undefined) {
            r.fail('UPDATE old record lacks a primary-key value', at);
          }
        }
        change.oldValues = rec.values;
        change.oldTypes = rec.types;
      }
      const at = r.pos;
      const rec = readRecord(r, n, undefined, true, 'UPDATE');
      if (patchset) {
        for (let i = 0; i < n; i++) {
          if (pkFlags[i] !== 0 && rec.types[i] === ValueType.Undefined) {
            r.fail('patchset UPDATE lacks a primary-key value', at);
          }
        }
      }
      change.newValues = rec.values;
      change.newTypes = rec.types;
    }
    yield { table, change };
  }
}

/**
 * Iterates the changes of a changeset or patchset lazily, each with its table group (whose
 * `changes` array stays empty). Throws ChangesetFormatError on malformed input.
 */
export function* iterateChangeset(
  buf: Uint8Array,
  opts: DecodeOptions = {},
): Generator<ChangesetEntry> {
  for (const e of iterateRaw(buf, opts)) if (e.change) yield { table: e.table, change: e.change };
}

/** Decodes a changeset (or patchset) into typed table groups and changes. */
export function decodeChangeset(buf: Uint8Array, opts: DecodeOptions = {}): Changeset {
  let patchset = opts.patchset;
  if (patchset === undefined && buf.byteLength > 0) patchset = buf[0] === TABLE_PATCHSET;
  const tables: ChangesetTable[] = [];
  for (const e of iterateRaw(buf, patchset === undefined ? {} : { patchset })) {
    if (e.change) e.table.changes.push(e.change);
    else tables.push(e.table);
  }
  return { patchset: patchset ?? false, tables };
}

// ---------------------------------------------------------------------------------------------
// Encoding

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

// ---------------------------------------------------------------------------------------------
// Invert, concat, summary

/** Inverts a changeset (INSERT ↔ DELETE, UPDATE old/new swapped), as sqlite3changeset_invert. */
export function invertChangeset(buf: Uint8Array): Uint8Array {
  const cs = decodeChangeset(buf);
  if (cs.patchset) throw new TypeError('a patchset cannot be inverted');
  for (const t of cs.tables) {
    const n = t.columnCount;
    t.changes = t.changes.map((c): ChangesetChange => {
      if (c.op === 'INSERT') {
        return {
          op: 'DELETE',
          indirect: c.indirect,
          oldValues: c.newValues,
          newValues: undefined,
          oldTypes: c.newTypes,
        };
      }
      if (c.op === 'DELETE') {
        return {
          op: 'INSERT',
          indirect: c.indirect,
          oldValues: undefined,
          newValues: c.oldValues,
          newTypes: c.oldTypes,
        };
      }
      const oldV = c.oldValues!;
      const oldT = c.oldTypes!;
      const newV = c.newValues!;
      const newT = c.newTypes!;
      const o: ColumnValue[] = new Array(n);
      const ot = new Uint8Array(n);
      const nv: ColumnValue[] = new Array(n);
      const nt = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const pk = t.primaryKey[i] !== 0;
        o[i] = pk ? oldV[i] : newV[i];
        ot[i] = pk ? oldT[i]! : newT[i]!;
        nv[i] = pk ? undefined : oldV[i];
        nt[i] = pk ? 0 : oldT[i]!;
      }
      return {
        op: 'UPDATE',
        indirect: c.indirect,
        oldValues: o,
        newValues: nv,
        oldTypes: ot,
        newTypes: nt,
      };
    });
  }
  return encodeChangeset(cs);
}

function valueKey(v: ColumnValue, t: number): string {
  switch (t) {
    case ValueType.Integer:
      return `i${String(v)}`;
    case ValueType.Real:
      return `r${Object.is(v, -0) ? '-0' : String(v)}`;
    case ValueType.Text:
      return `t${(v as string).length}:${v as string}`;
    case ValueType.Blob:
      return `b${Buffer.from(v as Uint8Array).toString('hex')}`;
    case ValueType.Null:
      return 'n';
    default:
      return 'u';
  }
}

function primaryKeyOf(c: ChangesetChange, order: number[]): SqlValue[] {
  const rec = c.op === 'INSERT' || c.oldValues === undefined ? c.newValues! : c.oldValues;
  return order.map((i) => rec[i] as SqlValue);
}

function sameValue(a: ColumnValue, at: number, b: ColumnValue, bt: number): boolean {
  return at === bt && valueKey(a, at) === valueKey(b, bt);
}

/**
 * Concatenates changesets into one with the combined effect, following the rules of
 * sqlite3changeset_concat (sqlite3_changegroup): per table and primary key, INSERT+UPDATE →
 * INSERT, INSERT+DELETE → nothing, UPDATE+UPDATE → UPDATE, UPDATE+DELETE → DELETE,
 * DELETE+INSERT → UPDATE; unsupported pairs keep the first change. Changesets only.
 */
export function concatChangesets(...buffers: Uint8Array[]): Uint8Array {
  const tables = new Map<
    string,
    { t: ChangesetTable; order: number[]; rows: Map<string, ChangesetChange> }
  >();
  for (const buf of buffers) {
    const cs = decodeChangeset(buf);
    if (cs.patchset && cs.tables.length > 0)
      throw new TypeError('concatChangesets supports changesets only');
    for (const t of cs.tables) {
      let g = tables.get(t.name);
      if (!g) {
        g = {
          t: { name: t.name, columnCount: t.columnCount, primaryKey: t.primaryKey, changes: [] },
          order: pkColumnOrder(t.primaryKey),
          rows: new Map(),
        };
        tables.set(t.name, g);
      } else if (
        g.t.columnCount !== t.columnCount ||
        g.t.primaryKey.join() !== t.primaryKey.join()
      ) {
        throw new ChangesetFormatError(
          `table "${t.name}" has different column definitions across changesets`,
          0,
        );
      }
      for (const c of t.changes) {
        const rec = c.op === 'INSERT' ? c.newValues! : c.oldValues!;
        const types = c.op === 'INSERT' ? c.newTypes! : c.oldTypes!;
        const key = g.order.map((i) => valueKey(rec[i], types[i]!)).join('|');
        const prev = g.rows.get(key);
        if (!prev) {
          g.rows.set(key, c);
          continue;
        }
        const merged = mergeChanges(g.t, prev, c);
        g.rows.delete(key);
        if (merged) g.rows.set(key, merged);
      }
    }
  }
  const out: Changeset = { patchset: false, tables: [] };
  for (const g of tables.values()) {
    g.t.changes = [...g.rows.values()];
    if (g.t.changes.length > 0) out.tables.push(g.t);
  }
  return encodeChangeset(out);
}

function mergeChanges(
  t: ChangesetTable,
  a: ChangesetChange,
  b: ChangesetChange,
): ChangesetChange | undefined {
  const n = t.columnCount;
  const pk = t.primaryKey;
  if (
    (a.op === 'INSERT' && b.op === 'INSERT') ||
    (a.op === 'UPDATE' && b.op === 'INSERT') ||
    (a.op === 'DELETE' && b.op !== 'INSERT')
  ) {
    return a;
  }
  if (a.op === 'INSERT' && b.op === 'DELETE') return undefined;
  if (a.op === 'INSERT') {
    // INSERT + UPDATE
    const v = [...a.newValues!];
    const ty = Uint8Array.from(a.newTypes!);
    for (let i = 0; i < n; i++) {
      if (b.newTypes![i] !== ValueType.Undefined) {
        v[i] = b.newValues![i];
        ty[i] = b.newTypes![i]!;
      }
    }
    return {
      op: 'INSERT',
      indirect: a.indirect && b.indirect,
      oldValues: undefined,
      newValues: v,
      newTypes: ty,
    };
  }
  if (a.op === 'UPDATE' && b.op === 'DELETE') {
    const v = [...b.oldValues!];
    const ty = Uint8Array.from(b.oldTypes!);
    for (let i = 0; i < n; i++) {
      if (a.oldTypes![i] !== ValueType.Undefined) {
        v[i] = a.oldValues![i];
        ty[i] = a.oldTypes![i]!;
      }
    }
    return {
      op: 'DELETE',
      indirect: a.indirect && b.indirect,
      oldValues: v,
      newValues: undefined,
      oldTypes: ty,
    };
  }
  // UPDATE + UPDATE, or DELETE + INSERT: an UPDATE from a's old values to b's new values.
  const oldV: ColumnValue[] = new Array(n);
  const oldT = new Uint8Array(n);
  const newV: ColumnValue[] = new Array(n);
  const newT = new Uint8Array(n);
  let changed = false;
  for (let i = 0; i < n; i++) {
    let ov: ColumnValue;
    let ot: number;
    let nv: ColumnValue;
    let nt: number;
    if (a.op === 'DELETE') {
      ov = a.oldValues![i];
      ot = a.oldTypes![i]!;
      nv = b.newValues![i];
      nt = b.newTypes![i]!;
    } else {
      const aOld = a.oldTypes![i]!;
      const bOld = b.oldTypes![i]!;
      ov = aOld !== 0 ? a.oldValues![i] : b.oldValues![i];
      ot = aOld !== 0 ? aOld : bOld;
      const bNew = b.newTypes![i]!;
      nv = bNew !== 0 ? b.newValues![i] : a.newValues![i];
      nt = bNew !== 0 ? bNew : a.newTypes![i]!;
    }
    if (pk[i] !== 0) {
      oldV[i] = ov;
      oldT[i] = ot;
      newV[i] = undefined;
      newT[i] = 0;
      continue;
    }
    if (nt === 0 || sameValue(ov, ot, nv, nt)) {
      oldV[i] = undefined;
      newV[i] = undefined;
      continue;
    }
    changed = true;
    oldV[i] = ov;
    oldT[i] = ot;
    newV[i] = nv;
    newT[i] = nt;
  }
  if (!changed) return undefined;
  return {
    op: 'UPDATE',
    indirect: a.indirect && b.indirect,
    oldValues: oldV,
    newValues: newV,
    oldTypes: oldT,
    newTypes: newT,
  };
}

/** Tables, per-operation counts and affected primary keys of a changeset or patchset. */
export function summarizeChangeset(buf: Uint8Array, opts: DecodeOptions = {}): ChangesetSummary {
  const cs = decodeChangeset(buf, opts);
  const summary: ChangesetSummary = {
    patchset: cs.patchset,
    tables: [],
    inserts: 0,
    updates: 0,
    deletes: 0,
    changes: 0,
  };
  const byName = new Map<string, ChangesetTableSummary>();
  for (const t of cs.tables) {
    let s = byName.get(t.name);
    if (!s) {
      s = {
        name: t.name,
        columnCount: t.columnCount,
        inserts: 0,
        updates: 0,
        deletes: 0,
        primaryKeys: [],
      };
      byName.set(t.name, s);
      summary.tables.push(s);
    }
    const order = pkColumnOrder(t.primaryKey);
    for (const c of t.changes) {
      if (c.op === 'INSERT') s.inserts++;
      else if (c.op === 'UPDATE') s.updates++;
      else s.deletes++;
      s.primaryKeys.push(primaryKeyOf(c, order));
    }
  }
  for (const s of summary.tables) {
    summary.inserts += s.inserts;
    summary.updates += s.updates;
    summary.deletes += s.deletes;
  }
  summary.changes = summary.inserts + summary.updates + summary.deletes;
  return summary;
}
