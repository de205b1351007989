import { type Change, newChange } from '../changeset/read-record';
import { OP_UPDATE } from '../changeset/reader';
import { quoteIdent } from '../quote-ident';
import type { ColumnValue } from '../types';
import type { ApplyContext } from './apply-context';
import { readChangeToApply, replayRowByRow } from './apply-one';
import { isConstraintError } from './conflicts';
import { runWith, type Stmt } from './statements';
import type { TableInfo } from './table-info';

// What sqlite3changeset_apply does (SQLite >= 3.54, sessionRetryConstraints) with the changes of
// a table that still fail on a constraint once retrying them makes no progress: UPDATEs that
// swap or rotate UNIQUE values between rows (row 3: 'u' -> 'v', row 6: 'v' -> 'u') fail in any
// order, one at a time. So, for each such UPDATE in turn, inside a savepoint: (a) its changed
// UNIQUE columns get a "random" value of the same type, (b) the other deferred changes are
// retried until no progress, (c) the row gets the UPDATE's values. When (a) or (c) fails on a
// constraint the savepoint is rolled back and the next UPDATE is tried; when it succeeds, the
// loop starts over with the changes still deferred. What is left is reported (step 3, the
// caller's).

/**
 * Retries the section's deferred changes `list` (all but index `skip`, when >= 0) until a round
 * makes no progress (sessionRetryConstraints' step 1, and its step 2b). The changes still
 * failing are in `ctx.section.deferred`.
 */
export function retryDeferred(ctx: ApplyContext, list: number[], skip: number): void {
  const s = ctx.section;
  s.deferred = [];
  if (skip < 0) replayRowByRow(ctx, list, 0, list.length);
  else {
    replayRowByRow(ctx, list, 0, skip);
    replayRowByRow(ctx, list, skip + 1, list.length - skip - 1);
  }
  let app = list;
  while (s.deferred.length > 0 && s.deferred.length < app.length) {
    app = s.deferred;
    s.deferred = [];
    replayRowByRow(ctx, app, 0, app.length);
  }
}

/** sessionRetryConstraints' step 2 over `ctx.section.deferred` (see the top of this file). */
export function updateLoop(ctx: ApplyContext): void {
  const s = ctx.section;
  const cache = ctx.cache;
  const change = newChange(s.columns);
  let nth = 0;
  for (;;) {
    const list = s.deferred;
    const at = nthUpdate(ctx, list, nth);
    if (at < 0) return;
    nth++;
    const r = ctx.reader;
    const save = r.pos;
    r.pos = list[at]!;
    readChangeToApply(ctx, change);
    r.pos = save;
    const result = { ...ctx.result };
    cache.statement('SAVEPOINT synddb_update_op').run();
    let applied = false;
    try {
      if (setColumns(ctx, change, true)) {
        retryDeferred(ctx, list, at);
        applied = setColumns(ctx, change, false);
      }
    } catch (e) {
      if (ctx.db.inTransaction) {
        cache.statement('ROLLBACK TO synddb_update_op').run();
        cache.statement('RELEASE synddb_update_op').run();
      }
      throw e;
    }
    if (applied) {
      ctx.result.updated++;
      nth = 0;
    } else {
      cache.statement('ROLLBACK TO synddb_update_op').run();
      Object.assign(ctx.result, result);
      s.deferred = list;
    }
    cache.statement('RELEASE synddb_update_op').run();
  }
}

/** The index in `list` of its `nth` UPDATE, or -1. */
function nthUpdate(ctx: ApplyContext, list: number[], nth: number): number {
  const buf = ctx.reader.buf;
  let seen = -1;
  for (let k = 0; k < list.length; k++) {
    if (buf[list[k]!] === OP_UPDATE && ++seen === nth) return k;
  }
  return -1;
}

/**
 * random: (a), the changed UNIQUE columns of the UPDATE's row set to a value of their new value's
 * type (NULL, random(), CAST(random() AS TEXT), unhex(hex(random()))), false when it changes
 * none; else (c), every changed column set to its new value. Both by primary key only. False
 * when the statement fails on a constraint.
 */
function setColumns(ctx: ApplyContext, ch: Change, random: boolean): boolean {
  const s = ctx.section;
  const t = s.table!;
  const unique = random ? uniqueColumns(ctx, t) : undefined;
  let mask = '';
  const params: ColumnValue[] = [];
  for (let i = 0; i < s.columns; i++) {
    const v = ch.newValues[i];
    if (s.pk[i] !== 0 || v === undefined || (unique !== undefined && unique[i] === 0)) {
      mask += '_';
      continue;
    }
    if (!random) {
      mask += 'v';
      params.push(v);
    } else if (v === null) mask += 'n';
    else if (typeof v === 'string') mask += 't';
    else if (v instanceof Uint8Array) mask += 'b';
    else mask += 'i';
  }
  if (params.length === 0 && !/[ntbi]/.test(mask)) return false;
  for (let i = 0; i < s.columns; i++) if (s.pk[i] !== 0) params.push(ch.oldValues[i]);
  try {
    runWith(setStatement(ctx, t, mask), params);
    return true;
  } catch (e) {
    if (!isConstraintError(e)) throw e;
    return false;
  }
}

const RANDOM: Record<string, string> = {
  n: 'NULL',
  t: 'CAST(random() AS TEXT)',
  b: 'unhex(hex(random()))',
  i: 'random()',
};

function setStatement(ctx: ApplyContext, t: TableInfo, mask: string): Stmt {
  const key = `ul${mask}`;
  let st = t.stmts.get(key);
  if (st === undefined) {
    const s = ctx.section;
    const set: string[] = [];
    const where: string[] = [];
    for (let i = 0; i < s.columns; i++) {
      const col = quoteIdent(t.columns[i]!);
      const m = mask[i]!;
      if (m === 'v') set.push(`${col} = ?`);
      else if (m !== '_') set.push(`${col} = ${RANDOM[m]}`);
    }
    for (let i = 0; i < s.columns; i++) {
      if (s.pk[i] !== 0) where.push(`${quoteIdent(t.columns[i]!)} IS ?`);
    }
    st = ctx.db.prepare(
      `UPDATE main.${quoteIdent(t.name)} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`,
    );
    t.stmts.set(key, st);
  }
  return st;
}

/** Per column, 1 when it is in a UNIQUE index (every column for an expression or partial one). */
const uniqueOf = new WeakMap<TableInfo, Uint8Array>();

function uniqueColumns(ctx: ApplyContext, t: TableInfo): Uint8Array {
  let unique = uniqueOf.get(t);
  if (unique !== undefined) return unique;
  unique = new Uint8Array(t.columns.length);
  const indexes = ctx.db.pragma(`main.index_list(${quoteIdent(t.name)})`) as {
    name: string;
    unique: number;
    partial: number;
  }[];
  for (const index of indexes) {
    if (index.unique === 0) continue;
    const info = ctx.db.pragma(`main.index_xinfo(${quoteIdent(index.name)})`) as {
      cid: number;
      name: string | null;
      key: number;
    }[];
    for (const c of info) {
      if (c.key === 0) continue;
      for (let i = 0; i < t.columns.length; i++) {
        if (
          index.partial !== 0 ||
          c.cid === -2 ||
          (c.name !== null && c.name.toLowerCase() === t.columns[i]!.toLowerCase())
        ) {
          unique[i] = 1;
        }
      }
    }
  }
  uniqueOf.set(t, unique);
  return unique;
}
