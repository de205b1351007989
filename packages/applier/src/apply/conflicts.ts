import type { Change } from '../changeset/read-record';
import { OP_DELETE, OP_INSERT, OP_UPDATE } from '../changeset/reader';
import { ChangesetConflictError } from '../errors';
import type {
  ChangeOp,
  ColumnValue,
  ConflictAction,
  ConflictInfo,
  ConflictKind,
  SqlValue,
} from '../types';
import type { ApplyContext } from './apply-context';
import { selectStatement } from './statements';

/** What the row-by-row path does after a conflict (see applyChange). */
export const Outcome = { Done: 0, Retry: 1, Replace: 2 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** The default policy (the Rust validator's): omit CONFLICT, abort everything else. */
export function defaultPolicy(info: ConflictInfo): ConflictAction {
  return info.kind === 'CONFLICT' ? 'omit' : 'abort';
}

export function isConstraintError(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code.startsWith('SQLITE_CONSTRAINT')
  );
}

/**
 * Mirrors sessionConflictHandler for the change `ch` of the current section. eType is DATA or
 * CONFLICT; seek: look for a stored row with the change's primary key. A CONFLICT without such
 * a row is a CONSTRAINT conflict, first put off to the end of the section (see TableSection).
 */
export function handleConflict(
  ctx: ApplyContext,
  eType: 'DATA' | 'CONFLICT',
  ch: Change,
  seek: boolean,
  cause: unknown,
): Outcome {
  ctx.foreignKeys.restartIfOptimistic();
  const s = ctx.section;
  let row: SqlValue[] | undefined;
  if (seek) {
    const src = ch.op === OP_INSERT ? ch.newValues : ch.oldValues;
    const params: ColumnValue[] = [];
    for (let i = 0; i < s.columns; i++) if (s.pk[i] !== 0) params.push(src[i]);
    const found = selectStatement(ctx.db, s).get(params) as unknown[] | undefined;
    if (found) row = found.map(toSqlValue);
  }
  let kind: ConflictKind = eType;
  if (row === undefined) {
    if (s.deferConstraints && eType === 'CONFLICT') {
      s.deferred.push(ch.start);
      return Outcome.Done;
    }
    kind = eType === 'DATA' ? 'NOTFOUND' : 'CONSTRAINT';
  }
  const info = conflictInfo(ctx, kind, ch, row);
  const action = ctx.onConflict(info);
  switch (action) {
    case 'omit':
      ctx.result.omitted++;
      return Outcome.Done;
    case 'abort':
      throw new ChangesetConflictError(kind, info.table, info.op, info.primaryKey, {
        cause,
        details:
          info.mismatchedColumns && info.mismatchedColumns.length > 0
            ? `old values differ in column(s) ${info.mismatchedColumns.map((c) => `"${c}"`).join(', ')}; indirect=${info.indirect}`
            : `indirect=${info.indirect}`,
        ...(info.mismatchedColumns ? { mismatchedColumns: info.mismatchedColumns } : {}),
      });
    case 'replace':
      if (row === undefined) {
        throw new TypeError(
          `conflict handler returned 'replace' for a ${kind} conflict (allowed for DATA and CONFLICT only)`,
        );
      }
      return eType === 'DATA' ? Outcome.Retry : Outcome.Replace;
    default:
      throw new TypeError(
        `conflict handler returned ${String(action)}; expected 'omit', 'replace' or 'abort'`,
      );
  }
}

/** Foreign-key violations outstanding at the end of the apply: omitted, or thrown. */
export function foreignKeyConflict(ctx: ApplyContext, violations: number, cause?: unknown): void {
  const info: ConflictInfo = {
    kind: 'FOREIGN_KEY',
    table: '',
    op: 'INSERT',
    primaryKey: [],
    oldValues: undefined,
    newValues: undefined,
    conflictingRow: undefined,
    foreignKeyViolations: violations,
    indirect: false,
  };
  const action = ctx.onConflict(info);
  if (action === 'omit') return;
  throw new ChangesetConflictError('FOREIGN_KEY', '', 'INSERT', [], {
    cause,
    details: `${violations} foreign-key violation(s) outstanding`,
  });
}

/** What a conflict handler sees: copies of the change's values, never the reused arrays. */
function conflictInfo(
  ctx: ApplyContext,
  kind: ConflictKind,
  ch: Change,
  row: SqlValue[] | undefined,
): ConflictInfo {
  const s = ctx.section;
  const n = s.columns;
  const copy = (vals: ColumnValue[]): ColumnValue[] => {
    const out: ColumnValue[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = vals[i];
      out[i] = v === undefined ? undefined : toSqlValue(v);
    }
    return out;
  };
  const oldValues = ch.op === OP_INSERT ? undefined : copy(ch.oldValues);
  const newValues = ch.op === OP_DELETE ? undefined : copy(ch.newValues);
  const pkSrc = (ch.op === OP_INSERT ? newValues : oldValues)!;
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (s.pk[i] !== 0) order.push(i);
  order.sort((a, b) => s.pk[a]! - s.pk[b]! || a - b);
  const info: ConflictInfo = {
    kind,
    table: s.table?.name ?? s.name,
    op: opName(ch.op),
    primaryKey: order.map((i) => pkSrc[i] as SqlValue),
    oldValues,
    newValues,
    conflictingRow: row,
    indirect: ch.indirect,
  };
  if (kind === 'DATA' && row !== undefined && oldValues !== undefined && s.table) {
    // Name the columns whose stored value differs from the changeset's old value (a JS
    // comparison for diagnostics only: SQLite's IS decided the conflict).
    const cols: string[] = [];
    for (let i = 0; i < n; i++) {
      const o = oldValues[i];
      if (o !== undefined && s.pk[i] === 0 && !sameForDiagnostics(o, row[i] ?? null)) {
        cols.push(s.table.columns[i]!);
      }
    }
    info.mismatchedColumns = cols;
  }
  return info;
}

function opName(op: number): ChangeOp {
  return op === OP_INSERT ? 'INSERT' : op === OP_UPDATE ? 'UPDATE' : 'DELETE';
}

function toSqlValue(v: unknown): SqlValue {
  if (typeof v === 'bigint' && v >= -9007199254740991n && v <= 9007199254740991n) return Number(v);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  return v as SqlValue;
}

function sameForDiagnostics(a: SqlValue, b: SqlValue): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return Buffer.from(a).equals(Buffer.from(b));
  if (
    (typeof a === 'number' || typeof a === 'bigint') &&
    (typeof b === 'number' || typeof b === 'bigint')
  ) {
    return Number(a) === Number(b);
  }
  return a === b;
}
