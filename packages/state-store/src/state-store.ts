import type { Database, Statement } from 'better-sqlite3';
import { CursorConflictError, NotInTransactionError, StateValueError } from './errors';
import { migrateStateSchema } from './migrations';

const INT64_MAX = (1n << 63n) - 1n;

/** The last message applied to the replica. */
export interface Cursor {
  lastSequence: bigint;
  /** Sequencer timestamp (unix seconds) of that message. */
  lastTimestamp: bigint;
  /** Local wall-clock time of the commit, unix milliseconds. */
  appliedAt: number;
}

/** A range of sequences `[start, end)` that was skipped on an operator's explicit request. */
export interface SkippedGap {
  start: bigint;
  end: bigint;
  reason: string;
  detectedAt: number;
}

/** Something to sign once the transaction that produced it has committed. */
export interface OutboxEntry {
  messageId: string;
  sequence: bigint;
  kind: string;
  body: Uint8Array;
  createdAt: number;
  signature: string | null;
  signer: string | null;
  signedAt: number | null;
  error: string | null;
}

export interface OutboxEnqueueParameters {
  messageId: string;
  sequence: bigint;
  kind: string;
  body: Uint8Array;
}

export interface OpenStateStoreOptions {
  /** Clock for `applied_at`/`detected_at`/`created_at`, unix ms. Default `Date.now`. */
  now?: () => number;
}

function checkInt64(name: string, value: bigint): bigint {
  if (value < 0n || value > INT64_MAX) {
    throw new StateValueError(`${name} out of range`, `${name}=${value} must be in [0, 2^63-1]`);
  }
  return value;
}

interface CursorRow {
  last_sequence: bigint;
  last_timestamp: bigint;
  applied_at: bigint;
}

interface OutboxRow {
  message_id: string;
  sequence: bigint;
  kind: string;
  body: Buffer;
  created_at: bigint;
  signature: string | null;
  signer: string | null;
  signed_at: bigint | null;
  error: string | null;
}

function toOutboxEntry(row: OutboxRow): OutboxEntry {
  return {
    messageId: row.message_id,
    sequence: row.sequence,
    kind: row.kind,
    body: new Uint8Array(row.body),
    createdAt: Number(row.created_at),
    signature: row.signature,
    signer: row.signer,
    signedAt: row.signed_at === null ? null : Number(row.signed_at),
    error: row.error,
  };
}

/**
 * Validator state stored in reserved `_synddb_*` tables of the replica database. Every write
 * that describes applied data (`recordApplied`, `recordGap`, `enqueue`) must run inside the same
 * transaction as that data; a crash at any instant then leaves data and progress consistent.
 */
export class StateStore {
  readonly db: Database;
  readonly #now: () => number;
  readonly #selectCursor: Statement;
  readonly #selectLastSequence: Statement;
  readonly #upsertCursor: Statement;
  readonly #insertGap: Statement;
  readonly #selectGaps: Statement;
  readonly #insertOutbox: Statement;
  readonly #selectOutbox: Statement;
  readonly #selectUnsigned: Statement;
  readonly #updateSignature: Statement;
  readonly #updateOutboxError: Statement;
  readonly #selectSigned: Statement;
  readonly #countSigned: Statement;
  readonly #selectUnsignedOfKind: Statement;
  readonly #selectAtSequence: Statement;
  readonly #selectStateRoot: Statement;
  readonly #upsertStateRoot: Statement;

  constructor(db: Database, options: OpenStateStoreOptions = {}) {
    this.db = db;
    this.#now = options.now ?? Date.now;
    migrateStateSchema(db);
    this.#selectCursor = db
      .prepare('SELECT last_sequence, last_timestamp, applied_at FROM _synddb_cursor WHERE id = 1')
      .safeIntegers(true);
    this.#selectLastSequence = db
      .prepare('SELECT last_sequence FROM _synddb_cursor WHERE id = 1')
      .pluck()
      .safeIntegers(true);
    this.#upsertCursor = db.prepare(
      `INSERT INTO _synddb_cursor (id, last_sequence, last_timestamp, applied_at) VALUES (1, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET last_sequence = excluded.last_sequence,
         last_timestamp = excluded.last_timestamp, applied_at = excluded.applied_at`,
    );
    this.#insertGap = db.prepare(
      'INSERT INTO _synddb_gaps (gap_start, gap_end, reason, detected_at) VALUES (?, ?, ?, ?)',
    );
    this.#selectGaps = db
      .prepare('SELECT gap_start, gap_end, reason, detected_at FROM _synddb_gaps ORDER BY id')
      .safeIntegers(true);
    this.#insertOutbox = db.prepare(
      `INSERT INTO _synddb_outbox (message_id, sequence, kind, body, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING`,
    );
    this.#selectOutbox = db
      .prepare('SELECT * FROM _synddb_outbox WHERE message_id = ?')
      .safeIntegers(true);
    this.#selectUnsigned = db
      .prepare(
        'SELECT * FROM _synddb_outbox WHERE signature IS NULL ORDER BY sequence, message_id LIMIT ?',
      )
      .safeIntegers(true);
    this.#updateSignature = db.prepare(
      'UPDATE _synddb_outbox SET signature = ?, signer = ?, signed_at = ?, error = NULL WHERE message_id = ?',
    );
    this.#updateOutboxError = db.prepare(
      'UPDATE _synddb_outbox SET error = ? WHERE message_id = ? AND signature IS NULL',
    );
    this.#selectSigned = db
      .prepare(
        'SELECT * FROM _synddb_outbox WHERE signature IS NOT NULL ORDER BY sequence, message_id LIMIT ? OFFSET ?',
      )
      .safeIntegers(true);
    this.#countSigned = db
      .prepare('SELECT count(*) FROM _synddb_outbox WHERE signature IS NOT NULL')
      .pluck();
    this.#selectUnsignedOfKind = db
      .prepare(
        'SELECT * FROM _synddb_outbox WHERE signature IS NULL AND kind = ? ORDER BY sequence, message_id LIMIT ?',
      )
      .safeIntegers(true);
    this.#selectAtSequence = db
      .prepare(
        'SELECT * FROM _synddb_outbox WHERE signature IS NOT NULL AND sequence = ? AND kind = ? ORDER BY message_id',
      )
      .safeIntegers(true);
    this.#selectStateRoot = db
      .prepare('SELECT sequence, lthash FROM _synddb_state_root WHERE id = 1')
      .safeIntegers(true);
    this.#upsertStateRoot = db.prepare(
      `INSERT INTO _synddb_state_root (id, sequence, lthash) VALUES (1, ?, ?)
       ON CONFLICT(id) DO UPDATE SET sequence = excluded.sequence, lthash = excluded.lthash`,
    );
  }

  /** The last applied message, or null for a replica that never applied anything. */
  cursor(): Cursor | null {
    const row = this.#selectCursor.get() as CursorRow | undefined;
    if (row === undefined) return null;
    return {
      lastSequence: row.last_sequence,
      lastTimestamp: row.last_timestamp,
      appliedAt: Number(row.applied_at),
    };
  }

  /** The next sequence to apply: cursor + 1, or `startSequence` for a fresh replica. */
  nextSequence(startSequence = 0n): bigint {
    // One column, no Cursor object: recordApplied reads it for every applied message.
    const last = this.#selectLastSequence.get() as bigint | undefined;
    return last === undefined ? startSequence : last + 1n;
  }

  /**
   * Records that `sequence` has been applied. Must run inside the transaction that applied it.
   * Rejects anything but the next sequence (or, after a recorded gap, the gap's end), so that a
   * caller bug can never re-apply or silently skip a message.
   */
  recordApplied(
    sequence: bigint,
    timestamp: bigint,
    options: { startSequence?: bigint } = {},
  ): void {
    this.#requireTransaction('recordApplied');
    checkInt64('sequence', sequence);
    checkInt64('timestamp', timestamp);
    const expected = this.nextSequence(options.startSequence ?? 0n);
    if (sequence !== expected) throw new CursorConflictError(expected, sequence);
    this.#upsertCursor.run(sequence, timestamp, this.#now());
  }

  /**
   * Moves the cursor to `sequence` unconditionally: used when a snapshot replaces the database
   * (the snapshot's own sequence becomes the position) and for an operator's explicit skip.
   */
  setCursor(sequence: bigint, timestamp: bigint): void {
    this.#requireTransaction('setCursor');
    this.#upsertCursor.run(
      checkInt64('sequence', sequence),
      checkInt64('timestamp', timestamp),
      this.#now(),
    );
  }

  /**
   * Records a skipped range `[start, end)` and moves the cursor to `end - 1`, in one transaction,
   * so the skip is never silent and never lost.
   */
  recordGap(gap: { start: bigint; end: bigint; reason: string }): void {
    checkInt64('gap start', gap.start);
    checkInt64('gap end', gap.end);
    if (gap.end <= gap.start) {
      throw new StateValueError('Empty gap', `gap [${gap.start}, ${gap.end}) has no sequences`);
    }
    this.db.transaction(() => {
      const expected = this.nextSequence(gap.start);
      if (gap.start !== expected) throw new CursorConflictError(expected, gap.start);
      this.#insertGap.run(gap.start, gap.end, gap.reason, this.#now());
      const cursor = this.cursor();
      this.#upsertCursor.run(gap.end - 1n, cursor?.lastTimestamp ?? 0n, this.#now());
    })();
  }

  /** Every gap skipped so far, oldest first. */
  gaps(): SkippedGap[] {
    const rows = this.#selectGaps.all() as {
      gap_start: bigint;
      gap_end: bigint;
      reason: string;
      detected_at: bigint;
    }[];
    return rows.map((r) => ({
      start: r.gap_start,
      end: r.gap_end,
      reason: r.reason,
      detectedAt: Number(r.detected_at),
    }));
  }

  /**
   * Adds an item to sign after commit. Must run inside the apply transaction. Idempotent per
   * `messageId`: returns false when the id is already queued (or signed).
   */
  enqueue(entry: OutboxEnqueueParameters): boolean {
    this.#requireTransaction('enqueue');
    checkInt64('sequence', entry.sequence);
    const result = this.#insertOutbox.run(
      entry.messageId,
      entry.sequence,
      entry.kind,
      entry.body,
      this.#now(),
    );
    return result.changes === 1;
  }

  /** Outbox entries still waiting for a signature, in sequence order. */
  unsigned(limit = 100): OutboxEntry[] {
    return (this.#selectUnsigned.all(limit) as OutboxRow[]).map(toOutboxEntry);
  }

  /** Unsigned outbox entries of one kind, in sequence order. */
  unsignedOfKind(kind: string, limit = 100): OutboxEntry[] {
    return (this.#selectUnsignedOfKind.all(kind, limit) as OutboxRow[]).map(toOutboxEntry);
  }

  /** Signed outbox entries of one kind queued at `sequence`. */
  signedAt(sequence: bigint, kind: string): OutboxEntry[] {
    if (sequence < 0n || sequence > INT64_MAX) return [];
    return (this.#selectAtSequence.all(sequence, kind) as OutboxRow[]).map(toOutboxEntry);
  }

  /**
   * The persisted state-root state: the LtHash16 bytes of the replica's content after `sequence`
   * (null when never written). Written by the sync engine in the transaction of the data.
   */
  stateRootState(): { sequence: bigint; lthash: Uint8Array } | null {
    const row = this.#selectStateRoot.get() as { sequence: bigint; lthash: Buffer } | undefined;
    return row === undefined
      ? null
      : { sequence: row.sequence, lthash: new Uint8Array(row.lthash) };
  }

  /** Persists the state-root state; must run inside the transaction of the data it describes. */
  setStateRootState(sequence: bigint, lthash: Uint8Array): void {
    this.#requireTransaction('setStateRootState');
    this.#upsertStateRoot.run(checkInt64('sequence', sequence), lthash);
  }

  /** Signed outbox entries, in sequence order (paged). */
  signed(limit = 100, offset = 0): OutboxEntry[] {
    return (this.#selectSigned.all(limit, offset) as OutboxRow[]).map(toOutboxEntry);
  }

  /** How many outbox entries are signed. */
  signedCount(): number {
    return this.#countSigned.get() as number;
  }

  outboxEntry(messageId: string): OutboxEntry | null {
    const row = this.#selectOutbox.get(messageId) as OutboxRow | undefined;
    return row === undefined ? null : toOutboxEntry(row);
  }

  /** Persists a signature for an outbox entry (after the data commit). */
  recordSignature(messageId: string, signature: { signature: string; signer: string }): void {
    const result = this.#updateSignature.run(
      signature.signature,
      signature.signer,
      this.#now(),
      messageId,
    );
    if (result.changes !== 1) {
      throw new StateValueError('Unknown outbox entry', `no outbox entry for ${messageId}`);
    }
  }

  /** Remembers why signing an entry failed; it stays unsigned and is retried. */
  recordSigningError(messageId: string, error: string): void {
    this.#updateOutboxError.run(error, messageId);
  }

  /**
   * Writes the validator's state into `target`, a database that is about to replace the replica
   * (a snapshot image), with the cursor set to `cursor`: every reserved (`_synddb_*`) table of the
   * replica with its rows, indexes, triggers and views, whichever component owns it (this
   * package's gaps and outbox, the bridge signer's withdrawal ledger, ...), so a snapshot swap
   * loses no decision a component recorded. Reserved objects that came inside the image are
   * dropped first: an image is data, never a source of validator state. Runs in one transaction
   * on `target`.
   */
  copyInto(target: Database, cursor: { sequence: bigint; timestamp: bigint }): void {
    const reservedOf = (db: Database) =>
      db
        .prepare(
          "SELECT type, name, tbl_name AS tableName, sql FROM sqlite_master WHERE tbl_name LIKE '\\_synddb\\_%' ESCAPE '\\' AND type IN ('table', 'index', 'view', 'trigger') ORDER BY rowid",
        )
        .all() as { type: string; name: string; tableName: string; sql: string | null }[];
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const inImage = reservedOf(target);
    const ours = reservedOf(this.db);
    const tables = ours.filter((o) => o.type === 'table' && o.sql !== null);
    const rows = new Map(
      tables.map((t) => [
        t.name,
        this.db
          .prepare(`SELECT * FROM ${quote(t.name)}`)
          .raw(true)
          .safeIntegers(true)
          .all() as unknown[][],
      ]),
    );
    const columns = new Map(
      tables.map((t) => [
        t.name,
        (this.db.pragma(`table_info(${quote(t.name)})`) as { name: string }[]).map((c) => c.name),
      ]),
    );
    target.transaction(() => {
      for (const obj of inImage) {
        if (obj.type === 'table' || obj.type === 'view') {
          target.exec(`DROP ${obj.type.toUpperCase()} IF EXISTS ${quote(obj.name)}`);
        }
      }
      // tables first (in creation order), then their indexes, views and triggers
      for (const t of tables) {
        target.exec(t.sql!);
        const names = columns.get(t.name)!;
        const insert = target.prepare(
          `INSERT INTO ${quote(t.name)} (${names.map(quote).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        );
        for (const row of rows.get(t.name)!) insert.run(row);
      }
      for (const o of ours) {
        if (o.type !== 'table' && o.sql !== null) target.exec(o.sql);
      }
    })();
    // Same schema versions as this replica: opening runs no migration, only sets the cursor.
    const copy = new StateStore(target, { now: this.#now });
    target.transaction(() => copy.setCursor(cursor.sequence, cursor.timestamp))();
  }

  #requireTransaction(operation: string): void {
    if (!this.db.inTransaction) throw new NotInTransactionError(operation);
  }
}

/** Opens (and migrates) the state tables in a replica database. */
export function openStateStore(db: Database, options: OpenStateStoreOptions = {}): StateStore {
  return new StateStore(db, options);
}

/** True for names of the reserved tables this package owns (hidden from read queries). */
export function isReservedName(name: string): boolean {
  return name.toLowerCase().startsWith('_synddb_');
}
