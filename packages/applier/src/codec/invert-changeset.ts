import type { ChangesetChange, ColumnValue } from '../types';
import { decodeChangeset } from './decode-changeset';
import { encodeChangeset } from './encode-changeset';

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
