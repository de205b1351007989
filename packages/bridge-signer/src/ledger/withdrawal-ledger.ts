import { bytesToHex } from '@synddb/protocol';
import type { Database, Statement } from 'better-sqlite3';
import { WithdrawalLedgerError } from '../errors';
import { tryWithdrawalMessageId } from '../try-withdrawal-message-id';
import { migrateLedgerSchema } from './ledger-migrations';

/** What became of a withdrawal: accepted (queued or signed), refused by a policy, or unsignable. */
export type WithdrawalStatus = 'accepted' | 'refused' | 'unsignable';

/** The totals row that sums every recipient of a day. */
export const ALL_RECIPIENTS = '*';

/** A withdrawal as the ledger keeps it, with its signature and on-chain completion when known. */
export interface WithdrawalRecord {
  sequence: bigint;
  /** Sequencer timestamp of its message, unix seconds (0 for withdrawals carried over from before the ledger). */
  timestamp: bigint;
  requestId: string;
  /** `0x` + 64 lowercase hex; null when the request id has none (unsignable). */
  messageId: string | null;
  /** Lowercase when it is an address; as received (capped) otherwise. */
  recipient: string;
  /** Decimal text as received (capped when malformed). */
  amount: string;
  status: WithdrawalStatus;
  /** The refusing policy (`refused`), or `message_id`/`recipient`/`amount` (`unsignable`). */
  policy: string | null;
  reason: string | null;
  signature: string | null;
  signer: string | null;
  /** Unix ms of the signature. */
  signedAt: number | null;
  completed: { blockNumber: bigint; transactionHash: string } | null;
}

export interface NewWithdrawalRecord {
  sequence: bigint;
  timestamp: bigint;
  requestId: string;
  messageId: string | null;
  recipient: string;
  amount: string;
  status: WithdrawalStatus;
  policy?: string | null;
  reason?: string | null;
}

/** A `MessageHandled` event of the Bridge. */
export interface BridgeCompletion {
  messageId: string;
  blockNumber: bigint;
  transactionHash: string;
}

export interface ChainCursor {
  chainId: bigint;
  bridge: string;
  /** Last block whose events are recorded. */
  blockNumber: bigint;
}

interface Row {
  sequence: bigint;
  timestamp: bigint;
  request_id: string;
  message_id: string | null;
  recipient: string;
  amount: string;
  status: WithdrawalStatus;
  policy: string | null;
  reason: string | null;
  signature: string | null;
  signer: string | null;
  signed_at: bigint | null;
  completed_block: bigint | null;
  completed_tx: string | null;
}

const SELECT = `SELECT w.sequence, w.timestamp, w.request_id, w.message_id, w.recipient, w.amount,
    w.status, w.policy, w.reason, o.signature, o.signer, o.signed_at,
    c.block_number AS completed_block, c.transaction_hash AS completed_tx
  FROM _synddb_withdrawals w
  LEFT JOIN _synddb_outbox o ON o.message_id = w.message_id
  LEFT JOIN _synddb_bridge_completions c ON c.message_id = w.message_id`;

const DAY_SECONDS = 86_400n;
const INT64_MAX = (1n << 63n) - 1n;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

function toRecord(row: Row): WithdrawalRecord {
  return {
    sequence: row.sequence,
    timestamp: row.timestamp,
    requestId: row.request_id,
    messageId: row.message_id,
    recipient: row.recipient,
    amount: row.amount,
    status: row.status,
    policy: row.policy,
    reason: row.reason,
    signature: row.signature,
    signer: row.signer,
    signedAt: row.signed_at === null ? null : Number(row.signed_at),
    completed:
      row.completed_block === null || row.completed_tx === null
        ? null
        : { blockNumber: row.completed_block, transactionHash: row.completed_tx },
  };
}

/** The UTC day of a sequencer timestamp (unix seconds). */
export function withdrawalDay(timestamp: bigint): bigint {
  return timestamp / DAY_SECONDS;
}

/**
 * The bridge signer's record of every withdrawal in the replica (`_synddb_withdrawals`): the
 * decision (accepted, refused by a policy, unsignable) written in the apply transaction, the
 * per-day totals policies read (`_synddb_withdrawal_totals`, exact decimal sums), the Bridge's
 * completions and the chain cursor. Signatures stay in the state store's outbox and are joined in.
 */
export class WithdrawalLedger {
  readonly db: Database;
  readonly #now: () => number;
  readonly #insert: Statement;
  readonly #selectTotal: Statement;
  readonly #upsertTotals: Statement;
  readonly #byId: Statement;
  readonly #pending: Statement;
  readonly #pendingCount: Statement;
  readonly #notAccepted: Statement;
  readonly #statusCounts: Statement;
  readonly #insertCompletion: Statement;
  readonly #selectCursor: Statement;
  readonly #upsertCursor: Statement;
  readonly #lastSequence: Statement;
  readonly #since: Statement;
  readonly #closeOpen: Statement;
  readonly #refusedCount: Statement;

  /** Opens (and migrates) the ledger; the state store must already be open on `db`. */
  constructor(db: Database, options: { now?: () => number } = {}) {
    this.db = db;
    this.#now = options.now ?? Date.now;
    migrateLedgerSchema(db);
    // `open` in the same statement: the first accepted withdrawal with its message id, unless its
    // completion was seen before it was replicated.
    this.#insert = db.prepare(
      `INSERT INTO _synddb_withdrawals
        (sequence, timestamp, day, request_id, message_id, recipient, amount, status, policy, reason, open)
       VALUES (@sequence, @timestamp, @day, @requestId, @messageId, @recipient, @amount, @status,
         @policy, @reason,
         CASE WHEN @status = 'accepted' AND @messageId IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM _synddb_withdrawals
             WHERE message_id = @messageId AND status = 'accepted')
           AND NOT EXISTS (SELECT 1 FROM _synddb_bridge_completions WHERE message_id = @messageId)
         THEN 1 END)`,
    );
    this.#selectTotal = db
      .prepare('SELECT total FROM _synddb_withdrawal_totals WHERE day = ? AND recipient = ?')
      .pluck();
    // Both totals rows (the recipient's and everyone's) in one statement.
    this.#upsertTotals = db.prepare(
      `INSERT INTO _synddb_withdrawal_totals (day, recipient, total, count) VALUES (?, ?, ?, 1), (?, ?, ?, 1)
       ON CONFLICT(day, recipient) DO UPDATE SET total = excluded.total, count = count + 1`,
    );
    // A request id's rows: by the message id derived from it (indexed), or through the partial
    // index of rows whose message id is not derived from their request id (migration 2).
    this.#byId = db
      .prepare(
        `${SELECT} WHERE w.sequence IN (
           SELECT sequence FROM _synddb_withdrawals
             WHERE message_id = @derivedId AND request_id = @requestId
           UNION SELECT sequence FROM _synddb_withdrawals
             WHERE (message_id IS NULL OR timestamp = 0) AND request_id = @requestId
           UNION SELECT sequence FROM _synddb_withdrawals WHERE message_id = @messageId
         ) ORDER BY w.sequence LIMIT @limit`,
      )
      .safeIntegers(true);
    // One entry per message id (the first accepted withdrawal with it, `open`): the Bridge knows a
    // message id once, however many withdrawals share it. Through the partial index on `open`.
    const pendingWhere = 'WHERE w.open = 1 AND o.signature IS NOT NULL';
    this.#pending = db
      .prepare(`${SELECT} ${pendingWhere} ORDER BY w.sequence LIMIT ? OFFSET ?`)
      .safeIntegers(true);
    this.#pendingCount = db
      .prepare(
        `SELECT count(*) FROM _synddb_withdrawals w
         JOIN _synddb_outbox o ON o.message_id = w.message_id
         ${pendingWhere}`,
      )
      .pluck();
    this.#notAccepted = db
      .prepare(`${SELECT} WHERE w.status <> 'accepted' ORDER BY w.sequence LIMIT ? OFFSET ?`)
      .safeIntegers(true);
    this.#statusCounts = db.prepare(
      'SELECT status, policy, count(*) AS n FROM _synddb_withdrawals GROUP BY status, policy',
    );
    this.#insertCompletion = db.prepare(
      `INSERT INTO _synddb_bridge_completions (message_id, block_number, transaction_hash, recorded_at)
       VALUES (?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING`,
    );
    this.#selectCursor = db
      .prepare(
        'SELECT chain_id, bridge, block_number FROM _synddb_bridge_chain_cursor WHERE id = 1',
      )
      .safeIntegers(true);
    this.#upsertCursor = db.prepare(
      `INSERT INTO _synddb_bridge_chain_cursor (id, chain_id, bridge, block_number, updated_at)
       VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET chain_id = excluded.chain_id,
         bridge = excluded.bridge, block_number = excluded.block_number, updated_at = excluded.updated_at`,
    );
    this.#lastSequence = db
      .prepare('SELECT max(sequence) FROM _synddb_withdrawals')
      .pluck()
      .safeIntegers(true);
    this.#refusedCount = db
      .prepare("SELECT count(*) FROM _synddb_withdrawals WHERE status <> 'accepted'")
      .pluck();
    this.#closeOpen = db.prepare(
      'UPDATE _synddb_withdrawals SET open = NULL WHERE message_id = ? AND open = 1',
    );
    this.#since = db
      .prepare(`${SELECT} WHERE w.sequence > ? ORDER BY w.sequence LIMIT ?`)
      .safeIntegers(true);
  }

  /** Records a withdrawal's decision. Must run inside the transaction that applies its message. */
  insert(record: NewWithdrawalRecord): void {
    if (!this.db.inTransaction) {
      throw new WithdrawalLedgerError('Withdrawals are recorded in the apply transaction', {
        details: `sequence ${record.sequence} recorded outside a transaction`,
      });
    }
    if (record.timestamp < 0n || record.timestamp > INT64_MAX) {
      throw new WithdrawalLedgerError('Withdrawal timestamp out of range', {
        details: `timestamp ${record.timestamp} at sequence ${record.sequence}`,
      });
    }
    try {
      this.#insert.run({
        sequence: record.sequence,
        timestamp: record.timestamp,
        day: withdrawalDay(record.timestamp),
        requestId: record.requestId,
        messageId: record.messageId,
        recipient: record.recipient,
        amount: record.amount,
        status: record.status,
        policy: record.policy ?? null,
        reason: record.reason ?? null,
      });
    } catch (cause) {
      throw new WithdrawalLedgerError('Cannot record the withdrawal', {
        details: `sequence ${record.sequence}`,
        cause,
      });
    }
  }

  /** Sum of the amounts accepted on `day` to `recipient` (lowercase), or to everyone (`ALL_RECIPIENTS`). */
  acceptedTotal(day: bigint, recipient: string): bigint {
    const text = this.#selectTotal.get(day, recipient) as string | undefined;
    if (text === undefined) return 0n;
    if (!DECIMAL.test(text)) {
      throw new WithdrawalLedgerError('Malformed stored withdrawal total', {
        details: `day ${day}, recipient ${recipient}: ${JSON.stringify(text.slice(0, 90))}`,
      });
    }
    return BigInt(text);
  }

  /**
   * Adds an accepted amount to the day's totals (the recipient's and everyone's), in one
   * statement. `before` are the totals already read for this withdrawal (read here otherwise). In
   * the apply transaction.
   */
  addAccepted(
    day: bigint,
    recipient: string,
    amount: bigint,
    before: { recipient?: bigint | undefined; all?: bigint | undefined } = {},
  ): void {
    const toRecipient = (before.recipient ?? this.acceptedTotal(day, recipient)) + amount;
    const toAll = (before.all ?? this.acceptedTotal(day, ALL_RECIPIENTS)) + amount;
    this.#upsertTotals.run(
      day,
      recipient,
      toRecipient.toString(),
      day,
      ALL_RECIPIENTS,
      toAll.toString(),
    );
  }

  /** Withdrawals whose request id is `requestId` or whose message id is `messageId`, oldest first. */
  find(requestId: string, messageId: string | null, limit = 100): WithdrawalRecord[] {
    const derived = tryWithdrawalMessageId(requestId);
    const derivedId = derived === null ? null : `0x${bytesToHex(derived)}`;
    return (this.#byId.all({ requestId, derivedId, messageId, limit }) as Row[]).map(toRecord);
  }

  /** Signed withdrawals not yet completed on-chain, oldest first. */
  pending(limit = 100, offset = 0): WithdrawalRecord[] {
    return (this.#pending.all(limit, offset) as Row[]).map(toRecord);
  }

  pendingCount(): number {
    return this.#pendingCount.get() as number;
  }

  /** Refused and unsignable withdrawals (never signed), oldest first. */
  refused(limit = 100, offset = 0): WithdrawalRecord[] {
    return (this.#notAccepted.all(limit, offset) as Row[]).map(toRecord);
  }

  /** How many withdrawals are refused or unsignable. */
  refusedCount(): number {
    return this.#refusedCount.get() as number;
  }

  /** Withdrawals recorded after `sequence`, oldest first (for logs and metrics after a commit). */
  recordedAfter(sequence: bigint, limit = 1000): WithdrawalRecord[] {
    return (this.#since.all(sequence, limit) as Row[]).map(toRecord);
  }

  /** The last recorded withdrawal's sequence, or -1. */
  lastSequence(): bigint {
    return (this.#lastSequence.get() as bigint | null) ?? -1n;
  }

  /** How many withdrawals have each status, refusals also per policy. */
  counts(): { status: WithdrawalStatus; policy: string | null; count: number }[] {
    return (
      this.#statusCounts.all() as { status: WithdrawalStatus; policy: string | null; n: number }[]
    ).map((r) => ({ status: r.status, policy: r.policy, count: r.n }));
  }

  /** The chain follower's position, or null before its first run. */
  chainCursor(): ChainCursor | null {
    const row = this.#selectCursor.get() as
      | { chain_id: string; bridge: string; block_number: bigint }
      | undefined;
    if (row === undefined) return null;
    return { chainId: BigInt(row.chain_id), bridge: row.bridge, blockNumber: row.block_number };
  }

  /**
   * Records the Bridge's completions up to `cursor.blockNumber` and moves the cursor there, in one
   * transaction. Returns how many were new, and the new ones that complete an accepted withdrawal.
   */
  recordCompletions(
    completions: readonly BridgeCompletion[],
    cursor: ChainCursor,
  ): { added: number; withdrawals: string[] } {
    const now = this.#now();
    return this.db.transaction(() => {
      let added = 0;
      const withdrawals: string[] = [];
      for (const c of completions) {
        const inserted = this.#insertCompletion.run(
          c.messageId,
          c.blockNumber,
          c.transactionHash,
          now,
        ).changes;
        added += inserted;
        // A new completion closes the open withdrawal with its message id, if one is replicated.
        if (inserted === 1 && this.#closeOpen.run(c.messageId).changes > 0) {
          withdrawals.push(c.messageId);
        }
      }
      this.#upsertCursor.run(cursor.chainId.toString(), cursor.bridge, cursor.blockNumber, now);
      return { added, withdrawals };
    })();
  }
}
