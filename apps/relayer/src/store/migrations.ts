import type { Database } from 'better-sqlite3';

/**
 * Schema versions of the job database, applied in order inside one transaction each; the
 * version is `PRAGMA user_version`. Never edit a released step: add one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: jobs, their history, every signed transaction
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('withdrawal', 'register-key')),
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    threshold_met_at INTEGER,
    tx_hash TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX jobs_due ON jobs (next_attempt_at) WHERE state NOT IN ('confirmed', 'failed');
  CREATE INDEX jobs_state ON jobs (state, created_at);
  CREATE TABLE job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    at INTEGER NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
  ) STRICT;
  CREATE INDEX job_events_job ON job_events (job_id, id);
  CREATE TABLE transactions (
    hash TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    step TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    raw TEXT NOT NULL,
    max_fee_per_gas TEXT NOT NULL,
    max_priority_fee_per_gas TEXT NOT NULL,
    gas_limit TEXT NOT NULL,
    status TEXT NOT NULL,
    block_number INTEGER,
    gas_used TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX transactions_job ON transactions (job_id, created_at);
  CREATE INDEX transactions_live ON transactions (status) WHERE status IN ('signed', 'broadcast');
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  `,
];

/** Brings the database to the latest schema version; refuses a newer one. */
export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `job database schema version ${current} is newer than this relayer's (${MIGRATIONS.length})`,
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
