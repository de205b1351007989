import { readRecord } from '../changeset/read-record';
import { readUpdateInto } from '../changeset/read-update-into';
import { OP_DELETE, OP_INSERT, OP_UPDATE } from '../changeset/reader';
import type { ApplyContext } from './apply-context';
import { replayRowByRow } from './apply-one';
import { type ChunkPlan, planChunk } from './chunk-plan';
import { type ChunkScratch, releaseChunkScratch, takeChunkScratch } from './chunk-scratch';
import {
  canFallBack,
  openBatchSavepoint,
  releaseBatchSavepoint,
  rollbackBatchSavepoint,
} from './multi-row-runs';
import {
  BOUND_NULL,
  DELETE_BATCH_ROWS,
  deleteBatchStatement,
  INSERT_BATCH_ROWS,
  insertStatement,
  MAX_PARAMS,
  runWith,
  UPDATE_BATCH_ROWS,
  updateBatchSlots,
  updateBatchStatement,
} from './statements';

/**
 * The sorted path: plans the chunk at the cursor (chunk-plan.ts) and runs its groups as
 * multi-row statements in one savepoint. Every statement must affect exactly its row count;
 * otherwise the chunk is rolled back and replayed row by row in changeset order, so conflicts
 * are classified exactly as sqlite3changeset_apply does. Returns false (cursor unchanged) when
 * the chunk does not qualify.
 */
export function applySortedChunk(ctx: ApplyContext): boolean {
  const sc = takeChunkScratch();
  try {
    const plan = planChunk(ctx, sc);
    if (plan === undefined) return false;
    runPlan(ctx, sc, plan);
    return true;
  } finally {
    releaseChunkScratch(sc);
  }
}

function runPlan(ctx: ApplyContext, sc: ChunkScratch, plan: ChunkPlan): void {
  const { grouped, bounds, masks } = plan;
  openBatchSavepoint(ctx);
  let ok = false;
  let rolledBack = false;
  try {
    ok = runGroup(ctx, sc, grouped, bounds[0]!, bounds[1]!, OP_DELETE, '');
    for (let g = 2; ok && g < masks.length; g++) {
      ok = runGroup(ctx, sc, grouped, bounds[g]!, bounds[g + 1]!, OP_UPDATE, masks[g]!);
    }
    if (ok) ok = runGroup(ctx, sc, grouped, bounds[1]!, bounds[2]!, OP_INSERT, '');
  } catch (e) {
    rollbackBatchSavepoint(ctx);
    rolledBack = true;
    if (!canFallBack(ctx, e)) throw e;
    ok = false;
  }
  if (ctx.stats) ctx.stats.sortedChunks++;
  if (ok) {
    releaseBatchSavepoint(ctx);
    ctx.result.deleted += plan.deletes;
    ctx.result.inserted += plan.count - plan.deletes - plan.updates;
    ctx.result.updated += plan.updates;
  } else {
    if (ctx.stats) ctx.stats.sortedChunkFallbacks++;
    if (!rolledBack) rollbackBatchSavepoint(ctx);
    replayRowByRow(ctx, sc.starts, 0, plan.count);
  }
  ctx.reader.pos = plan.end;
}

/** Runs one group as multi-row statements; false when a statement's row count is off. */
function runGroup(
  ctx: ApplyContext,
  sc: ChunkScratch,
  idx: Int32Array,
  from: number,
  to: number,
  op: number,
  mask: string,
): boolean {
  if (from === to) return true;
  const r = ctx.reader;
  const buf = r.buf;
  const s = ctx.section;
  const db = ctx.db;
  const n = s.columns;
  const pk = s.pk;
  const intBig = s.table!.intBig;
  const starts = sc.starts;
  const { oldSlot, newSlot, oldValues, newValues, params } = sc;
  const perRow = op === OP_UPDATE ? updateBatchSlots(s, mask, oldSlot, newSlot) : n;
  const cap =
    op === OP_INSERT ? INSERT_BATCH_ROWS : op === OP_UPDATE ? UPDATE_BATCH_ROWS : DELETE_BATCH_ROWS;
  const maxRows = Math.max(1, Math.min(cap, Math.floor(MAX_PARAMS / perRow)));
  const record = op === OP_INSERT ? 'INSERT' : 'DELETE';
  let intoSlots = 0;
  let done = from;
  while (done < to) {
    let rows = maxRows;
    const left = to - done;
    // the rest in power-of-two statements (at most log2 of them, and as many cached sizes)
    if (left < rows) rows = 2 ** (31 - Math.clz32(left));
    if (rows > maxRows) rows = maxRows;
    params.length = rows * perRow;
    // The group is in key order, so its changes lie scattered over the changeset: touch each
    // one first, a loop of independent loads the CPU overlaps, instead of one cache miss at a
    // time while decoding.
    let touch = 0;
    for (let j = 0; j < rows; j++) touch ^= buf[starts[idx[done + j]!]!]!;
    sc.touchSink ^= touch;
    let k = 0;
    for (let j = 0; j < rows; j++) {
      const start = starts[idx[done + j]!]!;
      if (op === OP_UPDATE) {
        // the scan matched this change's shape to the mask: decode it straight into its slots
        r.pos = start;
        if (readUpdateInto(r, n, intBig, BOUND_NULL, params, k, oldSlot, newSlot)) {
          intoSlots++;
          k += perRow;
          continue;
        }
        r.pos = start + 2;
        readRecord(r, n, 'UPDATE', oldValues, 0, intBig, BOUND_NULL, undefined);
        readRecord(r, n, 'UPDATE', newValues, 0, intBig, BOUND_NULL, undefined);
        for (let i = 0; i < n; i++) if ((mask.charCodeAt(i) - 48) & 1) params[k++] = newValues[i];
        for (let i = 0; i < n; i++) {
          if (pk[i] !== 0 || (mask.charCodeAt(i) - 48) & 2) params[k++] = oldValues[i];
        }
      } else {
        r.pos = start + 2;
        readRecord(r, n, record, params, k, intBig, BOUND_NULL, undefined);
        k += n;
      }
    }
    if (ctx.stats && intoSlots > 0) {
      ctx.stats.updatesIntoSlots += intoSlots;
      intoSlots = 0;
    }
    let changes: number;
    if (op === OP_INSERT) changes = runWith(insertStatement(db, s, rows), params).changes;
    else if (op === OP_DELETE) changes = runWith(deleteBatchStatement(db, s, rows), params).changes;
    else changes = runWith(updateBatchStatement(db, s, mask, rows, perRow), params).changes;
    if (changes !== rows) return false;
    done += rows;
  }
  return true;
}
