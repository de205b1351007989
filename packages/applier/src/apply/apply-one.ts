import { type Change, readChange } from '../changeset/read-record';
import { OP_DELETE, OP_UPDATE } from '../changeset/reader';
import type { ColumnValue } from '../types';
import type { ApplyContext } from './apply-context';
import { handleConflict, isConstraintError, Outcome } from './conflicts';
import {
  deleteStatement,
  insertStatement,
  runWith,
  selectStatement,
  updateStatement,
} from './statements';

// The row-by-row path: one statement per change, with the semantics of sessionApplyOneOp. Every
// change the multi-row paths do not take, or give back, ends here.

/**
 * Reads the change at the cursor into ch with its values ready to bind to the section's table:
 * INTEGERs of TEXT/BLOB columns as bigint, a patchset UPDATE's key moved to the old values
 * (where the statements take it), and sqlite_stat1's empty-blob idx back to NULL.
 */
export function readChangeToApply(ctx: ApplyContext, ch: Change): void {
  const s = ctx.section;
  const t = s.table!;
  readChange(ctx.reader, s.columns, s.pk, ctx.patchset, ch, t.intBig);
  if (ctx.patchset && ch.op === OP_UPDATE) {
    for (let i = 0; i < s.columns; i++) {
      if (s.pk[i] !== 0) {
        ch.oldValues[i] = ch.newValues[i];
        ch.newValues[i] = undefined;
      } else {
        ch.oldValues[i] = undefined;
      }
    }
  }
  if (t.stat1) {
    // the session extension records a NULL sqlite_stat1.idx as a zero-length blob
    for (const rec of [ch.oldValues, ch.newValues]) {
      const v = rec[1];
      if (v instanceof Uint8Array && v.length === 0) rec[1] = null;
    }
  }
}

/** Reads and applies, one by one, the changes at starts[from] .. starts[from + count - 1]. */
export function replayRowByRow(
  ctx: ApplyContext,
  starts: ArrayLike<number>,
  from: number,
  count: number,
): void {
  const r = ctx.reader;
  const ch = ctx.section.change;
  const save = r.pos;
  for (let k = from; k < from + count; k++) {
    r.pos = starts[k]!;
    readChangeToApply(ctx, ch);
    applyChange(ctx, ch);
  }
  r.pos = save;
}

/** Applies one change, and what the conflict handler asked for (a retry, or a replace). */
export function applyChange(ctx: ApplyContext, ch: Change): void {
  if (ctx.stats) ctx.stats.rowByRow++;
  const outcome = applyOnce(ctx, ch, true);
  if (outcome === Outcome.Retry) {
    if (applyOnce(ctx, ch, false) === Outcome.Done) ctx.result.replaced++;
  } else if (outcome === Outcome.Replace) {
    const cache = ctx.cache;
    cache.statement('SAVEPOINT synddb_replace_op').run();
    try {
      bindDelete(ctx, ch.newValues, true);
      runWith(deleteStatement(ctx.db, ctx.section), deleteParams);
      const before = ctx.result.inserted;
      applyOnce(ctx, ch, false);
      if (ctx.result.inserted > before) ctx.result.replaced++;
      cache.statement('RELEASE synddb_replace_op').run();
    } catch (e) {
      if (ctx.db.inTransaction) {
        cache.statement('ROLLBACK TO synddb_replace_op').run();
        cache.statement('RELEASE synddb_replace_op').run();
      }
      throw e;
    }
  }
}

/**
 * The single-row DELETE's parameters. Filled and bound at once, with no callback in between,
 * so one array serves every apply, nested ones (from a conflict handler) too.
 */
const deleteParams: ColumnValue[] = [];

/** Binds deleteStatement: the key, then the "key only" flag and the old values to compare. */
function bindDelete(ctx: ApplyContext, vals: ColumnValue[], pkOnly: boolean): void {
  const s = ctx.section;
  const p = deleteParams;
  let k = 0;
  let hasRest = false;
  for (let i = 0; i < s.columns; i++) if (s.pk[i] !== 0) p[k++] = vals[i];
  for (let i = 0; i < s.columns; i++) {
    if (s.pk[i] === 0) {
      if (!hasRest) {
        p[k++] = pkOnly ? 1 : 0;
        hasRest = true;
      }
      p[k++] = pkOnly ? null : vals[i];
    }
  }
  p.length = k;
}

/**
 * One attempt at a change (sessionApplyOneOp). first: the changeset's attempt, which compares
 * old values; a retry after 'replace' matches the primary key only, as a patchset does.
 */
function applyOnce(ctx: ApplyContext, ch: Change, first: boolean): Outcome {
  const s = ctx.section;
  const db = ctx.db;
  const op = ch.op;
  if (op === OP_DELETE) {
    bindDelete(ctx, ch.oldValues, !first || ctx.patchset);
    let changes: number;
    try {
      changes = runWith(deleteStatement(db, s), deleteParams).changes;
    } catch (e) {
      if (!isConstraintError(e)) throw e;
      return handleConflict(ctx, 'CONFLICT', ch, false, e);
    }
    if (changes === 0) return handleConflict(ctx, 'DATA', ch, first, undefined);
    ctx.result.deleted++;
    return Outcome.Done;
  }
  if (op === OP_UPDATE) {
    const keyOnly = !first || ctx.patchset;
    const n = s.columns;
    let mask = '';
    for (let i = 0; i < n; i++) {
      let m = ch.newValues[i] !== undefined ? 1 : 0;
      if (!keyOnly && s.pk[i] === 0 && ch.oldValues[i] !== undefined) m |= 2;
      mask += String.fromCharCode(48 + m);
    }
    const params: ColumnValue[] = [];
    for (let i = 0; i < n; i++) if (ch.newValues[i] !== undefined) params.push(ch.newValues[i]);
    for (let i = 0; i < n; i++) {
      if (s.pk[i] !== 0 || (!keyOnly && ch.oldValues[i] !== undefined))
        params.push(ch.oldValues[i]);
    }
    let changes: number;
    try {
      changes = runWith(updateStatement(db, s, mask), params).changes;
    } catch (e) {
      if (!isConstraintError(e)) throw e;
      return handleConflict(ctx, 'CONFLICT', ch, false, e);
    }
    if (changes === 0) return handleConflict(ctx, 'DATA', ch, first, undefined);
    ctx.result.updated++;
    return Outcome.Done;
  }
  if (s.table!.stat1) {
    // sqlite_stat1 has no unique key: look for the row first (as sqlite3changeset_apply does)
    const params: ColumnValue[] = [];
    for (let i = 0; i < s.columns; i++) if (s.pk[i] !== 0) params.push(ch.newValues[i]);
    if (selectStatement(db, s).get(params) !== undefined)
      return handleConflict(ctx, 'CONFLICT', ch, first, undefined);
  }
  try {
    runWith(insertStatement(db, s, 1), ch.newValues);
  } catch (e) {
    if (!isConstraintError(e)) throw e;
    return handleConflict(ctx, 'CONFLICT', ch, first, e);
  }
  ctx.result.inserted++;
  return Outcome.Done;
}
