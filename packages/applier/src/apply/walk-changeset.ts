import { readChange } from '../changeset/read-record';
import {
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  type Reader,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from '../changeset/reader';
import { readTableHeader, type TableHeader } from '../changeset/table-header';
import { SchemaMismatchError } from '../errors';
import { type ApplyContext, NO_SECTION, TableSection } from './apply-context';
import { applyChange, readChangeToApply, replayRowByRow } from './apply-one';
import { applySortedChunk } from './chunk-apply';
import { RESTART_DEFERRED } from './foreign-keys';
import { deleteRun, insertRun, updateRun } from './multi-row-runs';
import type { TableInfo } from './table-info';
import { retryDeferred, updateLoop } from './update-loop';

/**
 * Applies every change of the changeset, section by section, each change by the fastest path
 * that keeps sqlite3changeset_apply's semantics: the sorted chunk path, the run path, or row
 * by row. When the optimistic run with immediate foreign keys meets a conflict, it is rolled
 * back and the rest is applied again with deferred keys (see ForeignKeysMode).
 */
export function walkChangeset(ctx: ApplyContext): void {
  try {
    walk(ctx);
  } catch (e) {
    if (e !== RESTART_DEFERRED) throw e;
    ctx.reader.pos = ctx.foreignKeys.restartDeferred(ctx);
    ctx.section = NO_SECTION;
    walk(ctx);
  }
}

function walk(ctx: ApplyContext): void {
  const r = ctx.reader;
  const buf = r.buf;
  const patchset = ctx.patchset;
  while (r.pos < r.end) {
    const b = buf[r.pos]!;
    if (b === TABLE_CHANGESET || b === TABLE_PATCHSET) {
      finishSection(ctx);
      ctx.section = openSection(ctx);
      continue;
    }
    const s = ctx.section;
    if (s.columns === 0) r.fail(`expected a table header, got 0x${b.toString(16)}`);
    const t = s.table;
    if (t === null) {
      readChange(r, s.columns, s.pk, patchset, s.change, undefined); // skipped, but checked
      continue;
    }
    if (t.simple && s.sortable && !patchset) {
      // Long runs of UPDATEs or DELETEs gain nothing from reordering (sorting mostly helps
      // B-tree appends); the run path handles them with one decoding pass.
      if ((b === OP_UPDATE || b === OP_DELETE) && isUniformRun(r, b, s.columns, 64))
        s.sortable = false;
      else if (applySortedChunk(ctx)) continue;
      else s.sortable = false;
    }
    if (t.simple) {
      if (b === OP_INSERT) {
        insertRun(ctx);
        continue;
      }
      if (b === OP_UPDATE && !patchset) {
        if (updateRun(ctx)) continue;
      } else if (b === OP_DELETE && !patchset) {
        deleteRun(ctx);
        continue;
      }
    }
    readChangeToApply(ctx, s.change);
    applyChange(ctx, s.change);
  }
  finishSection(ctx);
}

/** Reads the table header at the cursor and finds where its changes go. */
function openSection(ctx: ApplyContext): TableSection {
  const headerStart = ctx.reader.pos;
  const h = readTableHeader(ctx.reader, ctx.patchset);
  const table = targetTable(ctx, h);
  if (table !== null) {
    ctx.touched.add(table);
    if (table.foreignKeys) ctx.foreignKeys.enterTable(ctx, headerStart);
  }
  return new TableSection(h.name, h.columnCount, h.pkFlags, table);
}

/**
 * The table a section's changes go to, or null when they are skipped: filtered out, or (with
 * checkSchema false, as sqlite3changeset_apply) missing or of another shape. A missing
 * sqlite_stat1 (the target never ran ANALYZE) is skipped either way, as SQLite does.
 */
function targetTable(ctx: ApplyContext, h: TableHeader): TableInfo | null {
  if (ctx.filter && !ctx.filter(h.name)) return null;
  const t = ctx.cache.table(h.name);
  if (t === null) {
    if (ctx.checkSchema && h.name.toLowerCase() !== 'sqlite_stat1') {
      throw new SchemaMismatchError(h.name, h.columnCount, undefined);
    }
    return null;
  }
  let pkMatches = true;
  for (let i = 0; i < h.columnCount; i++) if (t.pk[i] !== h.pkFlags[i]) pkMatches = false;
  if (ctx.checkSchema) {
    if (t.tableColumns !== h.columnCount)
      throw new SchemaMismatchError(h.name, h.columnCount, t.tableColumns);
    if (!pkMatches) {
      throw new SchemaMismatchError(
        h.name,
        h.columnCount,
        t.tableColumns,
        'has a different primary key than the changeset',
      );
    }
  } else if (h.columnCount > t.tableColumns || !pkMatches) {
    return null; // sqlite3changeset_apply skips such tables (with a log message)
  }
  for (let i = h.columnCount; i < t.tableColumns; i++) if (t.pk[i] !== 0) return null;
  return t;
}

/**
 * The section's CONSTRAINT conflicts (put off by handleConflict), as sqlite3changeset_apply
 * (SQLite >= 3.54) retries them: again and again until a round makes no progress, then with each
 * UPDATE's UNIQUE columns moved out of the way first (update-loop.ts), and what still fails is
 * reported.
 */
function finishSection(ctx: ApplyContext): void {
  const s = ctx.section;
  if (s.table === null) return;
  if (s.deferred.length > 0) retryDeferred(ctx, s.deferred, -1);
  if (s.deferred.length > 0) updateLoop(ctx);
  if (s.deferred.length > 0) {
    s.deferConstraints = false;
    const retry = s.deferred;
    s.deferred = [];
    replayRowByRow(ctx, retry, 0, retry.length);
  }
  ctx.section = NO_SECTION;
}

/** True when the next `count` changes (or all up to the next table) are all `op`. Cursor unchanged. */
function isUniformRun(r: Reader, op: number, columns: number, count: number): boolean {
  const buf = r.buf;
  const start = r.pos;
  const records = op === OP_UPDATE ? 2 : 1;
  try {
    for (let k = 0; k < count && r.pos < r.end; k++) {
      const b = buf[r.pos]!;
      if (b === TABLE_CHANGESET || b === TABLE_PATCHSET) break;
      if (b !== op) return false;
      r.pos += 2;
      for (let i = 0; i < records * columns; i++) r.skipRaw();
    }
    return true;
  } catch {
    return false; // malformed: let the exact path report it
  } finally {
    r.pos = start;
  }
}
