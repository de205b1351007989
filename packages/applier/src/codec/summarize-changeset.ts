import { pkColumnOrder } from '../changeset/table-header';
import type {
  ChangesetChange,
  ChangesetSummary,
  ChangesetTableSummary,
  DecodeOptions,
  SqlValue,
} from '../types';
import { decodeChangeset } from './decode-changeset';

function primaryKeyOf(c: ChangesetChange, order: number[]): SqlValue[] {
  const rec = c.op === 'INSERT' || c.oldValues === undefined ? c.newValues! : c.oldValues;
  return order.map((i) => rec[i] as SqlValue);
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
