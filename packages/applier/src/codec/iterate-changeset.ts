import { type Change, readChange } from '../changeset/read-record';
import { OP_DELETE, OP_INSERT, Reader, TABLE_CHANGESET, TABLE_PATCHSET } from '../changeset/reader';
import { readTableHeader } from '../changeset/table-header';
import type {
  ChangesetChange,
  ChangesetEntry,
  ChangesetTable,
  ColumnValue,
  DecodeOptions,
} from '../types';

/** A table header (change undefined) or a change of the table before it. */
export interface RawEntry {
  table: ChangesetTable;
  change: ChangesetChange | undefined;
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

/** The codec's parser: yields each table header (change undefined) and each change. */
export function* iterateRaw(buf: Uint8Array, opts: DecodeOptions): Generator<RawEntry> {
  const r: Reader = new Reader(buf); // annotated: r.fail narrows (it returns never)
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
    const patchset = expectPatchset === true;
    const ch = newChange(b, table.columnCount, patchset);
    readChange(r, table.columnCount, pkFlags, patchset, ch, undefined);
    yield { table, change: toChangesetChange(ch) };
  }
}

/** Never written: readChange fills only the records of the change's operation. */
const NO_VALUES: ColumnValue[] = [];

/** A Change with fresh arrays for the records (and wire types) that operation `op` carries. */
function newChange(op: number, columns: number, patchset: boolean): Change {
  const hasOld = op === OP_DELETE || (op !== OP_INSERT && !patchset);
  const hasNew = op !== OP_DELETE;
  return {
    op,
    indirect: false,
    start: 0,
    oldValues: hasOld ? new Array(columns) : NO_VALUES,
    newValues: hasNew ? new Array(columns) : NO_VALUES,
    oldTypes: hasOld ? new Uint8Array(columns) : undefined,
    newTypes: hasNew ? new Uint8Array(columns) : undefined,
  };
}

/** The public form of a change read by newChange's arrays (the records it has, with their types). */
function toChangesetChange(ch: Change): ChangesetChange {
  const change: ChangesetChange = {
    op: ch.op === OP_INSERT ? 'INSERT' : ch.op === OP_DELETE ? 'DELETE' : 'UPDATE',
    indirect: ch.indirect,
    oldValues: undefined,
    newValues: undefined,
  };
  if (ch.oldTypes !== undefined) {
    change.oldValues = ch.oldValues;
    change.oldTypes = ch.oldTypes;
  }
  if (ch.newTypes !== undefined) {
    change.newValues = ch.newValues;
    change.newTypes = ch.newTypes;
  }
  return change;
}
