import { iterateChangeset } from '../codec/iterate-changeset';
import type { ColumnValue } from '../types';
import { hashElement, LTHASH_LANES } from './lthash';
import { isStateTable, RowElementWriter } from './row-element';

/**
 * An UPDATE whose row element cannot be built from the changeset alone: SQLite records only the
 * primary key and the changed columns' old and new values, so the unchanged columns are read from
 * the replica right after the changeset is applied (`applyStateDelta`).
 */
export interface PendingRowUpdate {
  table: string;
  /** The header's primary-key flags (0, or the 1-based position in the key). */
  primaryKey: number[];
  /** Primary key and old values of the changed columns; undefined elsewhere. */
  oldValues: ColumnValue[];
  oldTypes: Uint8Array;
  /** New values of the changed columns; undefined elsewhere. */
  newValues: ColumnValue[];
  newTypes: Uint8Array;
}

/**
 * The state-root contribution of one changeset, computable without the database (e.g. on a
 * worker thread): `lanes` is the sum of the inserted rows' hashes minus the deleted rows' (mod
 * 2^16 per lane), `updates` the UPDATEs still to be resolved against the replica.
 */
export interface ChangesetStateDelta {
  lanes: Uint16Array;
  updates: PendingRowUpdate[];
}

/**
 * Computes a changeset's state delta from its bytes alone. Changes of `sqlite_*` and `_synddb_*`
 * tables are not state and are skipped. Throws ChangesetFormatError on malformed input.
 */
export function changesetStateDelta(changeset: Uint8Array): ChangesetStateDelta {
  const lanes = new Uint16Array(LTHASH_LANES);
  const scratch = new Uint16Array(LTHASH_LANES);
  const writer = new RowElementWriter();
  const updates: PendingRowUpdate[] = [];
  let lastTable = '';
  let included = false;
  for (const { table, change } of iterateChangeset(changeset)) {
    if (table.name !== lastTable) {
      lastTable = table.name;
      included = isStateTable(table.name);
    }
    if (!included) continue;
    if (change.op === 'UPDATE') {
      updates.push({
        table: table.name,
        primaryKey: table.primaryKey,
        oldValues: change.oldValues!,
        oldTypes: change.oldTypes!,
        newValues: change.newValues!,
        newTypes: change.newTypes!,
      });
      continue;
    }
    const insert = change.op === 'INSERT';
    const values = (insert ? change.newValues : change.oldValues)!;
    const types = (insert ? change.newTypes : change.oldTypes)!;
    writer.begin(table.name, table.columnCount);
    for (let i = 0; i < table.columnCount; i++) writer.value(types[i]!, values[i]);
    hashElement(writer.finish(), scratch);
    if (insert) for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! + scratch[i]!;
    else for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! - scratch[i]!;
  }
  return { lanes, updates };
}
