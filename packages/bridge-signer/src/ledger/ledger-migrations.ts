import type { Database } from 'better-sqlite3';
import { WithdrawalLedgerError } from '../errors';

/** `_synddb_meta` key of this package's schema version (the state store keeps its own). */
export const LEDGER_SCHEMA_KEY = 'bridge_signer_schema_version';

/**
 * Versioned migrations of the bridge signer's reserved tables, in the replica beside the state
 * store's (`_synddb_*` names: hidden from read queries and kept across snapshot swaps). Every row
 * about a withdrawal is written in the transaction that applies its message. Append only.
 */
export const LEDGER_MIGRATIONS: readonly string[] = [
  // 1: every withdrawal and the decision about it, per-day totals, on-chain completions, the
  // chain cursor. Withdrawals queued before this table existed are carried over (timestamp 0).
  `
  CREATE TABLE IF NOT EXISTS _synddb_withdrawals (
    sequence INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    day INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    message_id TEXT,
    recipient TEXT NOT NULL,
    amount TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'refused', 'unsignable')),
    policy TEXT,
    reason TEXT
  );
  CREATE INDEX IF NOT EXISTS _synddb_withdrawals_message_id ON _synddb_withdrawals (message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS _synddb_withdrawals_request_id ON _synddb_withdrawals (request_id);
  CREATE INDEX IF NOT EXISTS _synddb_withdrawals_not_accepted ON _synddb_withdrawals (sequence) WHERE status <> 'accepted';
  CREATE TABLE IF NOT EXISTS _synddb_withdrawal_totals (
    day INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    total TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, recipient)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS _synddb_bridge_completions (
    message_id TEXT PRIMARY KEY,
    block_number INTEGER NOT NULL,
    transaction_hash TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS _synddb_bridge_chain_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chain_id TEXT NOT NULL,
    bridge TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO _synddb_withdrawals
    (sequence, timestamp, day, request_id, message_id, recipient, amount, status)
    SELECT sequence, 0, 0,
      coalesce(json_extract(CAST(body AS TEXT), '$.request_id'), ''),
      message_id,
      lower(coalesce(json_extract(CAST(body AS TEXT), '$.recipient'), '')),
      coalesce(json_extract(CAST(body AS TEXT), '$.amount'), '0'),
      'accepted'
    FROM _synddb_outbox WHERE kind = 'withdrawal' AND json_valid(CAST(body AS TEXT));
  `,
  // 2: \`open\` = 1 marks the withdrawals the Bridge may still complete: accepted, the first
  // accepted one with its message id, no completion recorded (NULL otherwise). Set when the row is
  // written, cleared when its completion is recorded; the pending lists read it through a partial
  // index, so they cost in proportion to what is pending, not to the ledger.
  // The index on every request_id (text up to 1000 characters) was the ledger's costliest write;
  // a request id's rows are found by its message id (derived from it) instead, and only the rows
  // whose message id is not derived from their request id by this version keep a request_id
  // index: unsignable ones (none) and those carried over from the outbox (timestamp 0), whose id
  // an earlier version derived.
  `
  ALTER TABLE _synddb_withdrawals ADD COLUMN open INTEGER CHECK (open IS NULL OR open = 1);
  UPDATE _synddb_withdrawals SET open = 1
    WHERE status = 'accepted' AND message_id IS NOT NULL
      AND sequence = (SELECT min(x.sequence) FROM _synddb_withdrawals x
        WHERE x.message_id = _synddb_withdrawals.message_id AND x.status = 'accepted')
      AND NOT EXISTS (SELECT 1 FROM _synddb_bridge_completions c
        WHERE c.message_id = _synddb_withdrawals.message_id);
  CREATE INDEX IF NOT EXISTS _synddb_withdrawals_open ON _synddb_withdrawals (sequence) WHERE open = 1;
  DROP INDEX IF EXISTS _synddb_withdrawals_request_id;
  CREATE INDEX IF NOT EXISTS _synddb_withdrawals_request_id_underived ON _synddb_withdrawals (request_id)
    WHERE message_id IS NULL OR timestamp = 0;
  `,
];

export const LEDGER_SCHEMA_VERSION = LEDGER_MIGRATIONS.length;

function readVersion(db: Database): number {
  const row = db.prepare('SELECT value FROM _synddb_meta WHERE key = ?').get(LEDGER_SCHEMA_KEY) as
    | { value: string }
    | undefined;
  if (row === undefined) return 0;
  const version = Number(row.value);
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new WithdrawalLedgerError('Malformed bridge signer schema version', {
      details: `_synddb_meta.${LEDGER_SCHEMA_KEY} = ${JSON.stringify(row.value.slice(0, 40))}`,
    });
  }
  return version;
}

/**
 * Brings the ledger tables up to {@link LEDGER_SCHEMA_VERSION}, each step in its own transaction.
 * Needs the state store's tables (`_synddb_meta`, `_synddb_outbox`): open the state store first.
 */
export function migrateLedgerSchema(db: Database): number {
  const current = readVersion(db);
  if (current > LEDGER_SCHEMA_VERSION) {
    throw new WithdrawalLedgerError('Bridge signer schema is newer than this version', {
      details: `found schema version ${current}, this build supports up to ${LEDGER_SCHEMA_VERSION}`,
    });
  }
  for (let version = current; version < LEDGER_SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(LEDGER_MIGRATIONS[version]!);
      db.prepare(
        'INSERT INTO _synddb_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ).run(LEDGER_SCHEMA_KEY, String(version + 1));
    })();
  }
  return LEDGER_SCHEMA_VERSION;
}
