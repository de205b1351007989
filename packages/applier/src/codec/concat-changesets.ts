import { pkColumnOrder } from '../changeset/table-header';
import { ChangesetFormatError } from '../errors';
import {
  type Changeset,
  type ChangesetChange,
  type ChangesetTable,
  type ColumnValue,
  ValueType,
} from '../types';
import { decodeChangeset } from './decode-changeset';
import { encodeChangeset } from './encode-changeset';

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
