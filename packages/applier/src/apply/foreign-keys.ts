import type { ApplyResult } from '../types';
import type { ApplyContext } from './apply-context';
import { foreignKeyConflict } from './conflicts';
import type { DatabaseCache } from './database-cache';

/**
 * How foreign keys are handled (foreign_keys on and the schema has some):
 * - Already: defer_foreign_keys was on before the apply; nothing to switch.
 * - Immediate: optimistic. Writing any pragma expires every prepared statement of the
 *   connection (OP_Expire), so the apply first runs with immediate foreign keys; at the first
 *   table with foreign keys it opens a savepoint, and at the first conflict of any kind (an
 *   immediate foreign-key failure is one) it rolls back to it and redoes the rest with
 *   defer_foreign_keys on. A run without conflicts and immediate failures executes the same
 *   statements with the same effects as a deferred run, and its deferred-violation counter
 *   would end at zero (only immediate keys: no DEFERRABLE in the schema).
 * - Lazy: defer_foreign_keys is switched on when the first table with foreign keys is reached.
 */
export const ForeignKeysMode = { None: 0, Already: 1, Immediate: 2, Lazy: 3 } as const;
export type ForeignKeysMode = (typeof ForeignKeysMode)[keyof typeof ForeignKeysMode];

/** Thrown inside an optimistic (immediate foreign keys) run to restart it deferred. */
export const RESTART_DEFERRED = new Error('restart with deferred foreign keys');

/** How this apply handles foreign keys; read inside its transaction. */
export function foreignKeysMode(cache: DatabaseCache, foreignKeysOn: boolean): ForeignKeysMode {
  if (!foreignKeysOn || cache.foreignKeyChildren().size === 0) return ForeignKeysMode.None;
  if (cache.statement('PRAGMA defer_foreign_keys').pluck().get() === 1)
    return ForeignKeysMode.Already;
  return cache.hasDeferrableKeys() ? ForeignKeysMode.Lazy : ForeignKeysMode.Immediate;
}

/** The foreign-key state of one apply (see ForeignKeysMode). */
export class ForeignKeys {
  readonly mode: ForeignKeysMode;
  private started = false;
  private immediate = false;
  private pragmaOn = false;
  private restartPos = 0;
  private restartResult: ApplyResult | undefined;

  constructor(mode: ForeignKeysMode) {
    this.mode = mode;
  }

  /** At a table with foreign keys; at the first one, open the optimistic savepoint or defer. */
  enterTable(ctx: ApplyContext, headerStart: number): void {
    if (this.started) return;
    this.started = true;
    if (this.mode === ForeignKeysMode.Immediate) {
      ctx.cache.statement('SAVEPOINT synddb_fk').run();
      this.restartPos = headerStart;
      this.restartResult = { ...ctx.result };
      this.immediate = true;
    } else if (this.mode === ForeignKeysMode.Lazy) {
      this.defer(ctx);
    }
  }

  /** At a conflict: an optimistic run cannot report it (see ForeignKeysMode), it restarts. */
  restartIfOptimistic(): void {
    if (this.immediate) throw RESTART_DEFERRED;
  }

  /**
   * After RESTART_DEFERRED: rolls back to the optimistic savepoint, restores the counts and
   * switches defer_foreign_keys on. Returns the offset to apply again from.
   */
  restartDeferred(ctx: ApplyContext): number {
    ctx.cache.statement('ROLLBACK TO synddb_fk').run();
    if (ctx.stats) ctx.stats.foreignKeyRestarts++;
    this.immediate = false;
    this.defer(ctx);
    Object.assign(ctx.result, this.restartResult);
    return this.restartPos;
  }

  private defer(ctx: ApplyContext): void {
    ctx.cache.statement('PRAGMA defer_foreign_keys = 1').run();
    if (ctx.stats) ctx.stats.deferPragmaWrites++;
    this.pragmaOn = true;
  }

  private undefer(ctx: ApplyContext): void {
    ctx.cache.statement('PRAGMA defer_foreign_keys = 0').run();
    if (ctx.stats) ctx.stats.deferPragmaWrites++;
  }

  /**
   * The end of an apply inside the caller's transaction. An immediate run that finished
   * introduced no violation (every statement was checked), as a deferred run would have ended
   * with a zero counter. Otherwise the counter cannot be read inside the caller's transaction:
   * the touched tables and their children are checked. The pragma is switched off again so
   * the caller's own statements keep immediate checks.
   */
  finishInCallerTransaction(ctx: ApplyContext): void {
    if (this.pragmaOn || this.mode === ForeignKeysMode.Already) {
      const violations = foreignKeyViolations(ctx);
      if (violations > 0) foreignKeyConflict(ctx, violations);
    }
    if (this.pragmaOn) this.undefer(ctx);
  }

  /**
   * COMMIT of the apply's own transaction. defer_foreign_keys stays on until then: switching it
   * off would zero the deferred-violation counter that COMMIT checks (COMMIT switches it off
   * itself).
   */
  commit(ctx: ApplyContext): void {
    try {
      ctx.cache.statement('COMMIT').run();
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_FOREIGNKEY' || !ctx.db.inTransaction)
        throw e;
      foreignKeyConflict(ctx, foreignKeyViolations(ctx), e);
      // omitted: as sqlite3changeset_apply, switching defer_foreign_keys off forgets the
      // outstanding violations, and the transaction commits with them
      this.undefer(ctx);
      ctx.cache.statement('COMMIT').run();
    }
  }

  /** After the apply's savepoint in a caller's transaction was rolled back. */
  afterCallerRollback(ctx: ApplyContext): void {
    if (this.pragmaOn && ctx.db.inTransaction) this.undefer(ctx);
  }
}

/** Outstanding foreign-key violations of the touched tables and their children. */
function foreignKeyViolations(ctx: ApplyContext): number {
  const children = ctx.cache.foreignKeyChildren();
  const check = new Set<string>();
  for (const t of ctx.touched) {
    if (!t.foreignKeys) continue;
    check.add(t.name);
    for (const c of children.get(t.name.toLowerCase()) ?? []) check.add(c);
  }
  let count = 0;
  const stmt = ctx.cache
    .statement(`SELECT count(*) FROM pragma_foreign_key_check(?, 'main')`)
    .pluck();
  for (const name of check) count += stmt.get(name) as number;
  return count;
}
