import { readIndirect, readRecord } from '../changeset/read-record';
import { readUpdateInto } from '../changeset/read-update-into';
import { OP_DELETE, OP_INSERT, OP_UPDATE } from '../changeset/reader';
import type { ColumnValue } from '../types';
import type { ApplyContext } from './apply-context';
import { readChangeToApply, replayRowByRow } from './apply-one';
import {
  BOUND_NULL,
  DELETE_BATCH_ROWS,
  deleteBatchStatement,
  INSERT_BATCH_ROWS,
  insertStatement,
  MAX_PARAMS,
  runWith,
  SMALL_BATCH_ROWS,
  type Stmt,
  UPDATE_BATCH_ROWS,
  updateBatchSlots,
  updateBatchStatement,
} from './statements';

// The run path: consecutive changes of one operation (UPDATEs: of one changed-column set) in
// changeset order, as multi-row statements. A statement that fails, or changes another number
// of rows than it carries, is undone and its changes are replayed row by row, which reproduces
// the exact first failure or conflict.

/** A run's parameter arrays, reused by the runs of one apply. */
export class RunBuffers {
  /** The values of the run's rows, row after row. */
  readonly params: ColumnValue[] = [];
  /** Offset of each row's change (to replay it). */
  readonly starts: number[] = [];
  /** UPDATE runs: where each old / new value goes in a row's parameters (-1: absent). */
  readonly oldSlot: number[] = [];
  readonly newSlot: number[] = [];
}

/** Consecutive INSERTs: multi-row INSERT statements. */
export function insertRun(ctx: ApplyContext): void {
  collectAndApply(ctx, OP_INSERT, INSERT_BATCH_ROWS);
}

/** Consecutive DELETEs of a changeset: each row deleted only if its key and old values match. */
export function deleteRun(ctx: ApplyContext): void {
  collectAndApply(ctx, OP_DELETE, DELETE_BATCH_ROWS);
}

function collectAndApply(ctx: ApplyContext, op: number, batchRows: number): void {
  const r = ctx.reader;
  const buf = r.buf;
  const s = ctx.section;
  const n = s.columns;
  const intBig = s.table!.intBig;
  const record = op === OP_INSERT ? 'INSERT' : 'DELETE';
  const maxRows = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMS / n)));
  const { params, starts } = ctx.runBuffers;
  // Filled row after row (readRecord writes every column): the run's values and nothing else.
  // Sizing it for maxRows up front cost a 1,000-slot array per apply of a one-row changeset.
  params.length = 0;
  let rows = 0;
  while (r.pos < r.end && buf[r.pos] === op && rows < maxRows) {
    const start = r.pos;
    readIndirect(r);
    readRecord(r, n, record, params, rows * n, intBig, BOUND_NULL, undefined);
    starts[rows++] = start;
  }
  applyRows(ctx, op, '', rows, n, maxRows);
}

/**
 * Consecutive UPDATEs with the same changed-column set: one UPDATE … FROM (VALUES …) per batch.
 * Returns false when the change at the cursor is not eligible (it rewrites its primary key,
 * or its statement would bind too many values): the caller applies it row by row.
 */
export function updateRun(ctx: ApplyContext): boolean {
  const r = ctx.reader;
  const buf = r.buf;
  const s = ctx.section;
  const n = s.columns;
  const pk = s.pk;
  const ch = s.change;
  const first = r.pos;
  // Decode the first change to learn its mask.
  readChangeToApply(ctx, ch);
  let mask = '';
  let setCount = 0;
  let whereCount = 0;
  for (let i = 0; i < n; i++) {
    const isPk = pk[i] !== 0;
    const nv = ch.newValues[i] !== undefined;
    if (isPk && nv) {
      r.pos = first;
      return false; // the change rewrites the primary key
    }
    const ov = !isPk && ch.oldValues[i] !== undefined;
    mask += String.fromCharCode(48 + (nv ? 1 : 0) + (ov ? 2 : 0));
    if (nv) setCount++;
    if (isPk || ov) whereCount++;
  }
  const perRow = setCount + whereCount;
  if (setCount === 0 || perRow * 2 > MAX_PARAMS) {
    r.pos = first;
    return false;
  }
  const maxRows = Math.max(1, Math.min(UPDATE_BATCH_ROWS, Math.floor(MAX_PARAMS / perRow)));
  const { params, starts, oldSlot, newSlot } = ctx.runBuffers;
  params.length = maxRows * perRow;
  let rows = 0;
  const push = (): void => {
    let k = rows * perRow;
    for (let i = 0; i < n; i++) {
      const v = ch.newValues[i];
      if (v !== undefined) params[k++] = v === null ? BOUND_NULL : v;
    }
    for (let i = 0; i < n; i++) {
      const v = ch.oldValues[i];
      if (pk[i] !== 0 || v !== undefined) params[k++] = v === null ? BOUND_NULL : v;
    }
    starts[rows++] = ch.start;
  };
  push();
  updateBatchSlots(s, mask, oldSlot, newSlot);
  const intBig = s.table!.intBig;
  let intoSlots = 0;
  while (rows < maxRows && r.pos < r.end && buf[r.pos] === OP_UPDATE) {
    const at = r.pos;
    if (readUpdateInto(r, n, intBig, BOUND_NULL, params, rows * perRow, oldSlot, newSlot)) {
      intoSlots++;
      starts[rows++] = at;
      continue;
    }
    r.pos = at; // another shape (or malformed): decode it the general way
    readChangeToApply(ctx, ch);
    let same = true;
    for (let i = 0; i < n; i++) {
      const isPk = pk[i] !== 0;
      const m =
        (ch.newValues[i] !== undefined ? 1 : 0) + (!isPk && ch.oldValues[i] !== undefined ? 2 : 0);
      if (m !== mask.charCodeAt(i) - 48 || (isPk && ch.newValues[i] !== undefined)) {
        same = false;
        break;
      }
    }
    if (!same) {
      r.pos = at;
      break;
    }
    push();
  }
  if (ctx.stats) ctx.stats.updatesIntoSlots += intoSlots;
  applyRows(ctx, OP_UPDATE, mask, rows, perRow, maxRows);
  return true;
}

/**
 * Applies the `rows` rows collected in the run buffers: a full run as one statement, a shorter
 * one in statements of SMALL_BATCH_ROWS and the rest row by row (one INSERT row is bound
 * straight from the buffer).
 */
function applyRows(
  ctx: ApplyContext,
  op: number,
  mask: string,
  rows: number,
  perRow: number,
  maxRows: number,
): void {
  const { params, starts } = ctx.runBuffers;
  if (rows === maxRows) {
    if (!tryBatch(ctx, op, mask, params, rows, perRow)) replayRowByRow(ctx, starts, 0, rows);
    return;
  }
  let done = 0;
  while (rows - done >= SMALL_BATCH_ROWS) {
    const slice = params.slice(done * perRow, (done + SMALL_BATCH_ROWS) * perRow);
    if (!tryBatch(ctx, op, mask, slice, SMALL_BATCH_ROWS, perRow))
      replayRowByRow(ctx, starts, done, SMALL_BATCH_ROWS);
    done += SMALL_BATCH_ROWS;
  }
  if (done === rows) return;
  if (op !== OP_INSERT || rows - done > 1) {
    replayRowByRow(ctx, starts, done, rows - done);
    return;
  }
  const row =
    perRow === params.length ? params : params.slice(done * perRow, done * perRow + perRow);
  try {
    runWith(insertStatement(ctx.db, ctx.section, 1), row);
    ctx.result.inserted++;
  } catch (e) {
    if (!canFallBack(ctx, e)) throw e;
    replayRowByRow(ctx, starts, done, 1);
  }
}

/** One multi-row statement of a run; false when its rows must be replayed row by row. */
function tryBatch(
  ctx: ApplyContext,
  op: number,
  mask: string,
  params: ColumnValue[],
  rows: number,
  perRow: number,
): boolean {
  const db = ctx.db;
  const s = ctx.section;
  if (op === OP_INSERT) {
    // An INSERT stores all its rows or fails, and SQLite undoes a failed statement itself: no
    // savepoint is needed.
    if (ctx.stats) ctx.stats.runBatches++;
    try {
      runWith(insertStatement(db, s, rows), params);
    } catch (e) {
      if (!canFallBack(ctx, e)) throw e;
      if (ctx.stats) ctx.stats.runBatchFallbacks++;
      return false;
    }
    ctx.result.inserted += rows;
    return true;
  }
  const stmt =
    op === OP_UPDATE
      ? updateBatchStatement(db, s, mask, rows, perRow)
      : deleteBatchStatement(db, s, rows);
  if (!runBatch(ctx, stmt, params, rows)) return false;
  if (op === OP_UPDATE) ctx.result.updated += rows;
  else ctx.result.deleted += rows;
  return true;
}

/**
 * Runs one multi-row statement in a savepoint; true when it changed exactly `rows` rows. Any
 * other count, or a recoverable SQLite error, rolls it back so the caller replays row by row.
 */
function runBatch(ctx: ApplyContext, s: Stmt, params: ColumnValue[], rows: number): boolean {
  if (ctx.stats) ctx.stats.runBatches++;
  openBatchSavepoint(ctx);
  let changes: number;
  try {
    changes = runWith(s, params).changes;
  } catch (e) {
    rollbackBatchSavepoint(ctx);
    if (!canFallBack(ctx, e)) throw e;
    if (ctx.stats) ctx.stats.runBatchFallbacks++;
    return false;
  }
  if (changes !== rows) {
    rollbackBatchSavepoint(ctx);
    if (ctx.stats) ctx.stats.runBatchFallbacks++;
    return false;
  }
  releaseBatchSavepoint(ctx);
  return true;
}

/**
 * After a multi-row statement failed: replay its changes row by row (which reproduces the
 * exact first failure, or a conflict before it), unless the error is one that can end the
 * transaction or would recur regardless (busy, I/O, full, corrupt, interrupted).
 */
export function canFallBack(ctx: ApplyContext, e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_') || !ctx.db.inTransaction)
    return false;
  return !/^SQLITE_(BUSY|LOCKED|IOERR|FULL|NOMEM|INTERRUPT|CORRUPT|NOTADB|CANTOPEN|READONLY|PERM|ABORT)/.test(
    code,
  );
}

/** The savepoint around a multi-row statement (or a sorted chunk) that may be undone. */
export function openBatchSavepoint(ctx: ApplyContext): void {
  ctx.cache.statement('SAVEPOINT synddb_batch').run();
}

export function releaseBatchSavepoint(ctx: ApplyContext): void {
  ctx.cache.statement('RELEASE synddb_batch').run();
}

export function rollbackBatchSavepoint(ctx: ApplyContext): void {
  if (!ctx.db.inTransaction) return;
  ctx.cache.statement('ROLLBACK TO synddb_batch').run();
  ctx.cache.statement('RELEASE synddb_batch').run();
}
