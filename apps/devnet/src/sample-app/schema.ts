/**
 * The sample application's schema: a small bank. It exercises what the validator must replicate:
 * INTEGER/REAL/TEXT/BLOB/NULL values, 64-bit integers, a composite primary key on a WITHOUT ROWID
 * table, a text primary key, multi-row updates and deletes.
 */
export const SAMPLE_APP_SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY,
  owner TEXT NOT NULL,
  nickname TEXT,
  balance INTEGER NOT NULL CHECK (balance >= 0),
  interest_rate REAL NOT NULL DEFAULT 0.0,
  opened_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
  id INTEGER PRIMARY KEY,
  from_account INTEGER NOT NULL,
  to_account INTEGER NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  memo TEXT,
  reference BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS account_labels (
  account_id INTEGER NOT NULL,
  label TEXT NOT NULL,
  value TEXT,
  PRIMARY KEY (account_id, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS withdrawals (
  request_id TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  recipient TEXT NOT NULL,
  amount TEXT NOT NULL,
  status TEXT NOT NULL,
  sequence INTEGER,
  created_at INTEGER NOT NULL
);
`;
