import { TABLE_PATCHSET } from '../changeset/reader';
import type { Changeset, ChangesetTable, DecodeOptions } from '../types';
import { iterateRaw } from './iterate-changeset';

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
