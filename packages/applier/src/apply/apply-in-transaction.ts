import type { Database } from 'better-sqlite3';
import type { ApplyOptions, ApplyResult } from '../types';
import { ApplyContext } from './apply-context';
import { databaseCache } from './database-cache';
import { ForeignKeysMode, foreignKeysMode } from './foreign-keys';
import { walkChangeset } from './walk-changeset';

/**
 * applyChangeset and applyPatchset: checks the arguments, applies inside the apply's own
 * transaction ('own') or a savepoint of the caller's ('caller'), finishes the foreign-key
 * checks, and undoes everything on any error.
 */
export function applyInTransaction(
  db: Database,
  buf: Uint8Array,
  patchset: boolean,
  options: ApplyOptions,
): ApplyResult {
  if (!(buf instanceof Uint8Array)) throw new TypeError('changeset must be a Uint8Array');
  const mode = options.transaction ?? 'own';
  if (mode !== 'own' && mode !== 'caller')
    throw new TypeError(`transaction must be 'own' or 'caller'`);
  if (mode === 'caller' && !db.inTransaction) {
    throw new TypeError(
      "transaction: 'caller' requires an open transaction (db.inTransaction is false)",
    );
  }
  if (mode === 'own' && db.inTransaction) {
    throw new TypeError(
      "a transaction is already open; pass transaction: 'caller' to apply inside it",
    );
  }
  if (buf.byteLength === 0) return { inserted: 0, updated: 0, deleted: 0, omitted: 0, replaced: 0 };
  const cache = databaseCache(db);
  const foreignKeysOn = cache.foreignKeysOn();
  const own = mode === 'own';
  cache.statement(own ? 'BEGIN IMMEDIATE' : 'SAVEPOINT synddb_apply').run();
  let ctx: ApplyContext | undefined;
  try {
    cache.refreshSchema();
    ctx = new ApplyContext(cache, buf, patchset, options, foreignKeysMode(cache, foreignKeysOn));
    walkChangeset(ctx);
    if (ctx.foreignKeys.mode === ForeignKeysMode.None) {
      cache.statement(own ? 'COMMIT' : 'RELEASE synddb_apply').run();
    } else if (own) {
      ctx.foreignKeys.commit(ctx);
    } else {
      ctx.foreignKeys.finishInCallerTransaction(ctx);
      cache.statement('RELEASE synddb_apply').run();
    }
  } catch (e) {
    if (db.inTransaction) {
      if (own) cache.statement('ROLLBACK').run();
      else {
        cache.statement('ROLLBACK TO synddb_apply').run();
        cache.statement('RELEASE synddb_apply').run();
      }
    }
    if (!own) ctx?.foreignKeys.afterCallerRollback(ctx);
    throw e;
  }
  return ctx.result;
}
