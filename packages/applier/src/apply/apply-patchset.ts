import type { Database } from 'better-sqlite3';
import type { ApplyOptions, ApplyResult } from '../types';
import { applyInTransaction } from './apply-in-transaction';

/** Same as applyChangeset for a patchset ('P' table headers). */
export function applyPatchset(
  db: Database,
  patchset: Uint8Array,
  options: ApplyOptions = {},
): ApplyResult {
  return applyInTransaction(db, patchset, true, options);
}
