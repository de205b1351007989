import type { Database } from 'better-sqlite3';
import type { ApplyOptions, ApplyResult } from '../types';
import { applyInTransaction } from './apply-in-transaction';

/**
 * Applies a changeset to `db` with the semantics of sqlite3changeset_apply: rows are matched by
 * primary key, DELETE and UPDATE check old values, conflicts are classified DATA, NOTFOUND,
 * CONFLICT, CONSTRAINT, FOREIGN_KEY and resolved by `onConflict` (default: omit CONFLICT on
 * INSERT, abort everything else with ChangesetConflictError). All or nothing.
 */
export function applyChangeset(
  db: Database,
  changeset: Uint8Array,
  options: ApplyOptions = {},
): ApplyResult {
  return applyInTransaction(db, changeset, false, options);
}
