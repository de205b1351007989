import type { DatabaseSync } from 'node:sqlite';

/**
 * Runs `transaction` inside BEGIN IMMEDIATE … COMMIT with a session attached to every table and
 * returns the session's changeset (format 'T', what the SyndDB client pushes). On error the
 * transaction rolls back, the session is discarded and the error propagates.
 */
export function captureChangeset<T>(
  db: DatabaseSync,
  transaction: () => T,
): { result: T; changeset: Uint8Array } {
  const session = db.createSession();
  try {
    db.exec('BEGIN IMMEDIATE');
    let result: T;
    try {
      result = transaction();
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    return { result, changeset: session.changeset() };
  } finally {
    session.close();
  }
}
