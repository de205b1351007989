import type { Database } from 'better-sqlite3';
import { StateSchemaVersionError } from './errors';

/**
 * Versioned migrations of the reserved `_synddb_*` tables. They live in the replica database itself
 * so that the cursor, the gaps and the outbox commit in the same SQLite transaction as the data.
 * Append only: never edit a released migration.
 */
export const STATE_MIGRATIONS: readonly string[] = [
  // 1: cursor, gaps, withdrawal outbox
  `
  CREATE TABLE IF NOT EXISTS _synddb_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS _synddb_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_sequence INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    applied_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS _synddb_gaps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gap_start INTEGER NOT NULL,
    gap_end INTEGER NOT NULL CHECK (gap_end > gap_start),
    reason TEXT NOT NULL,
    detected_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS _synddb_outbox (
    message_id TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    signature TEXT,
    signer TEXT,
    signed_at INTEGER,
    error TEXT
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS _synddb_outbox_unsigned ON _synddb_outbox (sequence) WHERE signature IS NULL;
  `,
  // 2: signed entries in sequence order (the signature API lists and counts them)
  `
  CREATE INDEX IF NOT EXISTS _synddb_outbox_signed ON _synddb_outbox (sequence, message_id) WHERE signature IS NOT NULL;
  `,
  // 3: the state root's LtHash16 state (2048 bytes) and the sequence it is the state after
  `
  CREATE TABLE IF NOT EXISTS _synddb_state_root (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sequence INTEGER NOT NULL,
    lthash BLOB NOT NULL
  );
  `,
  // 4: the element hash of the state root changed (SHAKE128 to the BLAKE3 XOF, @synddb/applier):
  // a state stored before is dropped, and the sync engine recomputes it from scratch at start
  `
  DELETE FROM _synddb_state_root;
  `,
];

export const STATE_SCHEMA_VERSION = STATE_MIGRATIONS.length;

/** Reads the schema version recorded in `_synddb_meta` (0 when the tables do not exist yet). */
export function readSchemaVersion(db: Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_synddb_meta'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare("SELECT value FROM _synddb_meta WHERE key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  return row === undefined ? 0 : Number.parseInt(row.value, 10);
}

/** Brings the state tables up to {@link STATE_SCHEMA_VERSION}; each step is its own transaction. */
export function migrateStateSchema(db: Database): number {
  const current = readSchemaVersion(db);
  if (current > STATE_SCHEMA_VERSION) {
    throw new StateSchemaVersionError(current, STATE_SCHEMA_VERSION);
  }
  for (let version = current; version < STATE_SCHEMA_VERSION; version++) {
    const sql = STATE_MIGRATIONS[version]!;
    db.transaction(() => {
      db.exec(sql);
      db.prepare(
        "INSERT INTO _synddb_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ).run(String(version + 1));
    })();
  }
  return STATE_SCHEMA_VERSION;
}
