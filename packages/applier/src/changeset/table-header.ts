import { type Reader, TABLE_CHANGESET, TABLE_PATCHSET } from './reader';

/** Maximum number of columns a table header may declare (SQLite's own bound). */
const MAX_COLUMNS = 65536;

/** Parsed table header. */
export interface TableHeader {
  patchset: boolean;
  name: string;
  columnCount: number;
  /** PK flag bytes as in the header. */
  pkFlags: Uint8Array;
  /** Offset of the header's first byte. */
  offset: number;
}

/** Reads a table header at the cursor (the cursor sits on 'T' or 'P'). */
export function readTableHeader(r: Reader, expectPatchset: boolean | undefined): TableHeader {
  const offset = r.pos;
  const marker = r.buf[offset];
  if (marker !== TABLE_CHANGESET && marker !== TABLE_PATCHSET) {
    r.fail(`expected a table header ('T' or 'P'), got 0x${(marker ?? 0).toString(16)}`, offset);
  }
  const patchset = marker === TABLE_PATCHSET;
  if (expectPatchset !== undefined && patchset !== expectPatchset) {
    r.fail(patchset ? 'patchset table in a changeset' : 'changeset table in a patchset', offset);
  }
  r.pos = offset + 1;
  const colStart = r.pos;
  const columnCount = r.varint();
  if (columnCount < 1 || columnCount > MAX_COLUMNS)
    r.fail(`column count ${columnCount} out of range`, colStart);
  if (r.end - r.pos < columnCount) r.fail('truncated primary-key flags');
  const pkFlags = r.buf.slice(r.pos, r.pos + columnCount);
  r.pos += columnCount;
  let anyPk = false;
  for (let i = 0; i < columnCount; i++) if (pkFlags[i] !== 0) anyPk = true;
  if (!anyPk) r.fail('table header has no primary-key column', offset);
  const nameStart = r.pos;
  const nul = r.buf.indexOf(0, nameStart);
  if (nul < 0) r.fail('unterminated table name', nameStart);
  const name = r.text(nameStart, nul);
  r.pos = nul + 1;
  return { patchset, name, columnCount, pkFlags, offset };
}

/** Primary-key column indexes ordered by PK position (the flag byte), ties by column order. */
export function pkColumnOrder(pkFlags: Uint8Array | readonly number[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < pkFlags.length; i++) if (pkFlags[i] !== 0) idx.push(i);
  return idx.sort((a, b) => pkFlags[a]! - pkFlags[b]! || a - b);
}
