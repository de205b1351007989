import { type Change, newChange, readChange, readIndirect } from '../changeset/read-record';
import {
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  Reader,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from '../changeset/reader';
import { readTableHeader } from '../changeset/table-header';
import { iterateChangeset } from '../codec/iterate-changeset';
import type { ColumnValue } from '../types';
import { type ElementLaneBatch, LTHASH_LANES } from './lanes';
import { hashElement } from './lthash';
import { isStateTable, RowElementWriter } from './row-element';
import { elementLaneBatch, nativeChangesetDelta } from './state-root-kernel';

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
  /**
   * UPDATEs left undecoded in their changeset (`changesetStateDelta(c, { decodeUpdates: false })`),
   * resolved like `updates`: `positions` holds, per UPDATE, the byte offsets in `changeset` of its
   * table header and of its record. Cheap to send to another thread that has the changeset anyway
   * (two numbers per UPDATE instead of decoded values).
   */
  undecodedUpdates?: UndecodedUpdates;
}

export interface UndecodedUpdates {
  changeset: Uint8Array;
  positions: Uint32Array;
}

export interface ChangesetStateDeltaOptions {
  /**
   * false: leave the UPDATEs in the changeset (`undecodedUpdates`), for `applyStateDelta` to
   * decode where the changeset is applied. Default true (`updates`).
   */
  decodeUpdates?: boolean;
  /**
   * 1024 lanes the native pass writes the delta's into (it zeroes them first) instead of a new
   * array, e.g. one buffer a caller reuses for deltas it adds at once (each new array has a
   * backing store of 2 KiB outside V8's heap, for its background threads to sweep). The result's
   * `lanes` is this array when the native pass takes the changeset, a new one otherwise.
   */
  lanes?: Uint16Array;
}

/**
 * Computes a changeset's state delta from its bytes alone. Changes of `sqlite_*` and `_synddb_*`
 * tables are not state and are skipped. Throws ChangesetFormatError on malformed input and on a
 * patchset (it carries no old values: the rows it updates or deletes cannot be hashed).
 *
 * With a native kernel, one pass in C (`native/blake3-lthash-native.c`, "changeset deltas")
 * builds every INSERT and DELETE element and hashes it, checks every other change, and lists the
 * UPDATEs' offsets. Otherwise, or when that pass does not take the input, one pass here: INSERT
 * and DELETE records are written into the element straight from the wire
 * (`RowElementWriter#rawRecord`) and queued on this thread's `ElementLaneBatch`, which hashes
 * them and sums their lanes into the delta; only UPDATEs (and the changes of skipped tables, to
 * check them) are decoded into values. Anything that pass does not take (a patchset, a value it
 * does not copy, malformed input) is left to `referenceChangesetStateDelta`, the plain decoding
 * loop, which computes the same delta or throws the decoder's error.
 */
export function changesetStateDelta(
  changeset: Uint8Array,
  options: ChangesetStateDeltaOptions = {},
): ChangesetStateDelta {
  const decodeUpdates = options.decodeUpdates !== false;
  if (options.lanes !== undefined && options.lanes.length !== LTHASH_LANES) {
    throw new RangeError(`lanes: ${options.lanes.length} lanes, not ${LTHASH_LANES}`);
  }
  let delta: ChangesetStateDelta | undefined;
  try {
    delta =
      nativeDelta(changeset, decodeUpdates, options.lanes) ?? rawDelta(changeset, decodeUpdates);
  } catch {
    delta = undefined;
  }
  return delta ?? referenceChangesetStateDelta(changeset);
}

/**
 * changesetStateDelta without the native pass (the JavaScript pass, then the reference): what
 * the WebAssembly kernel runs, and what the tests hold the native pass to.
 */
export function scriptChangesetStateDelta(
  changeset: Uint8Array,
  options: ChangesetStateDeltaOptions = {},
): ChangesetStateDelta {
  let delta: ChangesetStateDelta | undefined;
  try {
    delta = rawDelta(changeset, options.decodeUpdates !== false);
  } catch {
    delta = undefined;
  }
  return delta ?? referenceChangesetStateDelta(changeset);
}

/** The native pass's delta; undefined when there is none or it does not take the input. */
function nativeDelta(
  changeset: Uint8Array,
  decodeUpdates: boolean,
  into?: Uint16Array,
): ChangesetStateDelta | undefined {
  const native = nativeChangesetDelta(changeset, into);
  if (native === undefined) return undefined;
  const { lanes, positions } = native;
  if (positions.length === 0) return { lanes, updates: [] };
  if (!decodeUpdates) {
    return { lanes, updates: [], undecodedUpdates: { changeset, positions: positions.slice() } };
  }
  return { lanes, updates: decodeUpdatesAt(changeset, positions) };
}

/** The UPDATEs at `positions` (header and record offsets, as in UndecodedUpdates), decoded. */
function decodeUpdatesAt(changeset: Uint8Array, positions: Uint32Array): PendingRowUpdate[] {
  const r = new Reader(changeset);
  const updates: PendingRowUpdate[] = [];
  let header = -1;
  let name = '';
  let pkFlags: Uint8Array = new Uint8Array(0);
  let primaryKey: number[] = [];
  for (let i = 0; i < positions.length; i += 2) {
    if (positions[i] !== header) {
      header = positions[i]!;
      r.pos = header;
      const h = readTableHeader(r, false);
      name = h.name;
      pkFlags = h.pkFlags;
      primaryKey = Array.from(pkFlags);
    }
    r.pos = positions[i + 1]!;
    const ch = newChange(pkFlags.length, true);
    readChange(r, pkFlags.length, pkFlags, false, ch, undefined);
    updates.push(pendingUpdate(name, primaryKey, ch));
  }
  return updates;
}

/** One writer per thread: `changesetStateDelta` is synchronous and never re-entered. */
const writer = new RowElementWriter();

/** The single pass of changesetStateDelta; undefined when it must take the reference path. */
function rawDelta(changeset: Uint8Array, decodeUpdates: boolean): ChangesetStateDelta | undefined {
  const r = new Reader(changeset);
  const updates: PendingRowUpdate[] = [];
  /** Without decodeUpdates: table header and record offset of each UPDATE. */
  const positions: number[] = [];
  let header = 0;
  let scratch: Change | undefined;
  let name = '';
  let columns = 0;
  let pkFlags: Uint8Array = new Uint8Array(0);
  let primaryKey: number[] = [];
  let included = false;
  let seen = false;
  let skipped: Change | undefined;
  const batch = elementLaneBatch();
  while (r.pos < r.end) {
    const op = r.buf[r.pos]!;
    if (op === TABLE_CHANGESET || op === TABLE_PATCHSET) {
      if (op === TABLE_PATCHSET) return undefined;
      header = r.pos;
      scratch = undefined;
      const h = readTableHeader(r, false);
      name = h.name;
      columns = h.columnCount;
      pkFlags = h.pkFlags;
      primaryKey = Array.from(pkFlags);
      included = isStateTable(name);
      seen = true;
      skipped = undefined;
      continue;
    }
    if (!seen) return undefined;
    if (!included || op === OP_UPDATE) {
      if (!included && skipped === undefined) skipped = newChange(columns, true);
      const start = r.pos;
      if (included && !decodeUpdates) {
        // read (and checked) here all the same; decoded again where it is resolved
        scratch ??= newChange(columns, true);
        readChange(r, columns, pkFlags, false, scratch, undefined);
        if (carriesEveryColumn(scratch)) addUpdateElements(batch, name, columns, scratch);
        else positions.push(header, start);
        continue;
      }
      const ch = included ? newChange(columns, true) : skipped!;
      readChange(r, columns, pkFlags, false, ch, undefined);
      if (!included) continue;
      if (carriesEveryColumn(ch)) {
        addUpdateElements(batch, name, columns, ch);
        continue;
      }
      updates.push(pendingUpdate(name, primaryKey, ch));
      continue;
    }
    if (op !== OP_INSERT && op !== OP_DELETE) return undefined;
    readIndirect(r);
    writer.begin(name, columns);
    const next = writer.rawRecord(r, r.pos, columns);
    if (next < 0) return undefined;
    r.pos = next;
    batch.add(writer.finish(), op === OP_DELETE);
  }
  const lanes = batch.take();
  if (positions.length === 0) return { lanes, updates };
  return {
    lanes,
    updates,
    undecodedUpdates: { changeset, positions: Uint32Array.from(positions) },
  };
}

/**
 * An UPDATE whose old record has every column: SQLite records the primary key and each changed
 * column's old and new values, so when every non-key column changed, the changeset holds both
 * rows (the applier compares every old value it is given to the replica's, and conflicts halt)
 * and the UPDATE is resolved here, with no read of the row.
 */
function carriesEveryColumn(ch: Change): boolean {
  const types = ch.oldTypes!;
  for (let i = 0; i < types.length; i++) if (types[i] === 0) return false;
  return true;
}

/**
 * Queues the old row's element (subtracted) and the new row's (added) of an UPDATE that carries
 * every column: the new row has the new record's values where it has them (as applying the
 * UPDATE sets them) and the old record's elsewhere.
 */
function addUpdateElements(batch: ElementLaneBatch, table: string, columns: number, ch: Change) {
  const oldTypes = ch.oldTypes!;
  const newTypes = ch.newTypes!;
  writer.begin(table, columns);
  for (let i = 0; i < columns; i++) writer.value(oldTypes[i]!, ch.oldValues[i]);
  batch.add(writer.finish(), true);
  writer.begin(table, columns);
  for (let i = 0; i < columns; i++) {
    if (newTypes[i] !== 0) writer.value(newTypes[i]!, ch.newValues[i]);
    else writer.value(oldTypes[i]!, ch.oldValues[i]);
  }
  batch.add(writer.finish(), false);
}

/** An UPDATE decoded into `ch` (its own arrays), still to be resolved against the replica. */
function pendingUpdate(table: string, primaryKey: number[], ch: Change): PendingRowUpdate {
  return {
    table,
    primaryKey,
    oldValues: ch.oldValues,
    oldTypes: ch.oldTypes!,
    newValues: ch.newValues,
    newTypes: ch.newTypes!,
  };
}

/**
 * changesetStateDelta by the plain loop: every change decoded by iterateChangeset, every element
 * written from its values. The fallback of changesetStateDelta, and what its tests compare it to.
 */
export function referenceChangesetStateDelta(changeset: Uint8Array): ChangesetStateDelta {
  const lanes = new Uint16Array(LTHASH_LANES);
  const scratch = new Uint16Array(LTHASH_LANES);
  const writer = new RowElementWriter();
  const updates: PendingRowUpdate[] = [];
  let lastTable = '';
  let included = false;
  // A patchset is refused (ChangesetFormatError, as the protocol carries changesets only): it
  // has no old values, so the rows it updates or deletes cannot be hashed.
  for (const { table, change } of iterateChangeset(changeset, { patchset: false })) {
    if (table.name !== lastTable) {
      lastTable = table.name;
      included = isStateTable(table.name);
    }
    if (!included) continue;
    if (change.op === 'UPDATE') {
      const oldTypes = change.oldTypes!;
      const newTypes = change.newTypes!;
      if (oldTypes.every((t) => t !== 0)) {
        // carries every column: both rows are in the changeset (see carriesEveryColumn)
        writer.begin(table.name, table.columnCount);
        for (let i = 0; i < table.columnCount; i++)
          writer.value(oldTypes[i]!, change.oldValues![i]);
        hashElement(writer.finish(), scratch);
        for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! - scratch[i]!;
        writer.begin(table.name, table.columnCount);
        for (let i = 0; i < table.columnCount; i++) {
          if (newTypes[i] !== 0) writer.value(newTypes[i]!, change.newValues![i]);
          else writer.value(oldTypes[i]!, change.oldValues![i]);
        }
        hashElement(writer.finish(), scratch);
        for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! + scratch[i]!;
        continue;
      }
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
