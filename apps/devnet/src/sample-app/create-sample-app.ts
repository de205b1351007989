import { randomInt } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { ChangesetData } from '@synddb/protocol';
import { DevnetConfigError, SampleAppError } from '../errors';
import { captureChangeset } from './capture-changeset';
import { readDatabaseImage } from './database-image';
import { SAMPLE_APP_SCHEMA } from './schema';
import { SeededRandom } from './seeded-random';
import {
  createSequencerClient,
  type ReceiptJson,
  type SequencerClient,
  type WithdrawalReceiptJson,
} from './sequencer-client';
import { runWorkload, type WorkloadOptions, type WorkloadSummary } from './workload';

export interface SampleAppOptions {
  /** Base URL of the sequencer's ingestion API. */
  sequencerUrl: string;
  /** SQLite file of the application (created if missing). */
  dbPath: string;
  /** Changesets per `POST /changesets` request (the client's push batching). Default 1. */
  changesetsPerRequest?: number;
  /** Unix milliseconds for row timestamps and request timestamps. Default `Date.now`. */
  clock?: () => number;
  /** Seed for generated ids (batch_id, message_id, withdrawal request ids). Default random. */
  idSeed?: number;
  /**
   * A synddb-relayer's base URL: every sequenced withdrawal is also posted to its
   * `/submit-withdrawal` (without waiting for the chain, as the reference's price-oracle app does).
   */
  relayerUrl?: string;
  /** Told about each withdrawal the relayer did not accept (the app goes on). */
  onRelayerError?: (messageId: string, error: string) => void;
}

/** One request the app sent, in send order, with the sequence the sequencer assigned. */
export type SentMessage =
  | { kind: 'snapshot'; sequence: number; clientSequence: number; bytes: number }
  | { kind: 'changesets'; sequence: number; clientSequences: number[] }
  | { kind: 'withdrawal'; sequence: number; requestId: string };

export interface AccountRow {
  id: number;
  owner: string;
  balance: bigint;
}

export interface SampleApp {
  readonly dbPath: string;
  /** The application's own connection (read it, don't write behind the app's back). */
  readonly db: DatabaseSync;
  readonly client: SequencerClient;
  /** Everything sent so far, in order. */
  readonly sent: readonly SentMessage[];
  /** Creates the schema and sends a snapshot of the database (what the client does on attach). */
  start(): Promise<ReceiptJson>;
  openAccount(owner: string, initialBalance: bigint, nickname?: string | null): Promise<number>;
  deposit(accountId: number, amount: bigint): Promise<void>;
  transfer(from: number, to: number, amount: bigint, memo?: string | null): Promise<number>;
  setLabel(accountId: number, label: string, value: string | null): Promise<void>;
  removeLabel(accountId: number, label: string): Promise<void>;
  rename(accountId: number, nickname: string | null): Promise<void>;
  /** Sets every account's interest rate (one multi-row UPDATE). */
  setInterestRate(rate: number): Promise<void>;
  /** Moves the balance to `beneficiary`, then deletes the account and its labels. */
  closeAccount(accountId: number, beneficiary: number): Promise<void>;
  /** Debits the account, records the withdrawal, and submits it to `POST /withdrawals`. */
  requestWithdrawal(
    accountId: number,
    recipient: string,
    amount: bigint,
  ): Promise<WithdrawalReceiptJson>;
  /** Runs DDL and sends a snapshot (schema travels only in snapshots). */
  executeDdl(sql: string): Promise<ReceiptJson>;
  /** Pushes queued changesets, then sends a snapshot of the current database. */
  snapshot(): Promise<ReceiptJson>;
  /** Pushes queued changesets now; null when none are queued. */
  flushChangesets(): Promise<ReceiptJson | null>;
  accounts(): AccountRow[];
  /** A deterministic random workload of business transactions (see `runWorkload`). */
  runWorkload(options: WorkloadOptions): Promise<WorkloadSummary>;
  close(): void;
}

/**
 * The devnet's sample SyndDB application: a small bank on `node:sqlite` whose every business
 * transaction is captured by SQLite's session extension and pushed to the sequencer as a real
 * changeset, like synddb-client does.
 */
export function createSampleApp(options: SampleAppOptions): SampleApp {
  const perRequest = options.changesetsPerRequest ?? 1;
  if (!Number.isSafeInteger(perRequest) || perRequest < 1) {
    throw new DevnetConfigError(
      `changesetsPerRequest must be a positive integer, got ${perRequest}`,
    );
  }
  const clock = options.clock ?? Date.now;
  const ids = new SeededRandom(options.idSeed ?? randomInt(2 ** 31));
  const client = createSequencerClient(options.sequencerUrl);
  // 64-bit integers stay exact (balances go beyond 2^53).
  const db = new DatabaseSync(options.dbPath, { readBigInts: true });
  const sent: SentMessage[] = [];
  const pending: ChangesetData[] = [];
  let clientSequence = 0n;
  // Operations run one at a time, in call order, so the sequencer sees them in that order.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = queue.then(operation);
    queue = result.catch(() => undefined);
    return result;
  };
  const nowSeconds = (): bigint => BigInt(Math.floor(clock() / 1000));

  async function flushChangesets(): Promise<ReceiptJson | null> {
    if (pending.length === 0) return null;
    const changesets = pending.splice(0, pending.length);
    let receipt: ReceiptJson;
    try {
      receipt = await client.postChangesets({ batchId: ids.uuidV4(), changesets });
    } catch (error) {
      // Keep them queued: the next push retries them, in order.
      pending.unshift(...changesets);
      throw error;
    }
    sent.push({
      kind: 'changesets',
      sequence: receipt.sequence,
      clientSequences: changesets.map((c) => Number(c.sequence)),
    });
    return receipt;
  }

  /** One business transaction: captured as a changeset, queued, pushed per `perRequest`. */
  async function record<T>(transaction: () => T): Promise<T> {
    const { result, changeset } = captureChangeset(db, transaction);
    // A transaction that changed nothing yields an empty changeset; the client does not send it.
    if (changeset.length > 0) {
      pending.push({ data: changeset, sequence: clientSequence, timestamp: nowSeconds() });
      clientSequence += 1n;
      if (pending.length >= perRequest) await flushChangesets();
    }
    return result;
  }

  async function snapshot(): Promise<ReceiptJson> {
    await flushChangesets();
    const data = readDatabaseImage(db);
    const snapshotSequence = clientSequence;
    const receipt = await client.postSnapshot({
      snapshot: { data, timestamp: nowSeconds(), sequence: snapshotSequence },
      messageId: ids.uuidV4(),
    });
    // The client's counter moves past a snapshot so later changesets sort after it.
    clientSequence += 1n;
    sent.push({
      kind: 'snapshot',
      sequence: receipt.sequence,
      clientSequence: Number(snapshotSequence),
      bytes: data.length,
    });
    return receipt;
  }

  const balanceOf = (accountId: number): bigint => {
    const row = db.prepare('SELECT balance FROM accounts WHERE id = ?').get(accountId) as
      | { balance: number | bigint }
      | undefined;
    if (row === undefined) throw new SampleAppError(`account ${accountId} does not exist`);
    return BigInt(row.balance);
  };
  const debit = (accountId: number, amount: bigint): void => {
    if (balanceOf(accountId) < amount) {
      throw new SampleAppError(`account ${accountId} has insufficient funds for ${amount}`);
    }
    db.prepare('UPDATE accounts SET balance = balance - ? WHERE id = ?').run(amount, accountId);
  };
  const credit = (accountId: number, amount: bigint): void => {
    balanceOf(accountId);
    db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?').run(amount, accountId);
  };
  const positive = (amount: bigint): void => {
    if (amount <= 0n) throw new SampleAppError(`amount must be positive, got ${amount}`);
  };

  const app: SampleApp = {
    dbPath: options.dbPath,
    db,
    client,
    sent,
    start: () =>
      serialized(async () => {
        db.exec(SAMPLE_APP_SCHEMA);
        return snapshot();
      }),
    openAccount: (owner, initialBalance, nickname = null) =>
      serialized(() =>
        record(() => {
          if (initialBalance < 0n) throw new SampleAppError('initial balance must not be negative');
          const result = db
            .prepare(
              'INSERT INTO accounts (owner, nickname, balance, opened_at) VALUES (?, ?, ?, ?)',
            )
            .run(owner, nickname, initialBalance, nowSeconds());
          return Number(result.lastInsertRowid);
        }),
      ),
    deposit: (accountId, amount) =>
      serialized(() =>
        record(() => {
          positive(amount);
          credit(accountId, amount);
        }),
      ),
    transfer: (from, to, amount, memo = null) =>
      serialized(() =>
        record(() => {
          positive(amount);
          if (from === to) throw new SampleAppError('cannot transfer to the same account');
          debit(from, amount);
          credit(to, amount);
          const result = db
            .prepare(
              'INSERT INTO transfers (from_account, to_account, amount, memo, reference, created_at) VALUES (?, ?, ?, ?, ?, ?)',
            )
            .run(from, to, amount, memo, ids.bytes(16), nowSeconds());
          return Number(result.lastInsertRowid);
        }),
      ),
    setLabel: (accountId, label, value) =>
      serialized(() =>
        record(() => {
          balanceOf(accountId);
          db.prepare(
            'INSERT INTO account_labels (account_id, label, value) VALUES (?, ?, ?) ON CONFLICT (account_id, label) DO UPDATE SET value = excluded.value',
          ).run(accountId, label, value);
        }),
      ),
    removeLabel: (accountId, label) =>
      serialized(() =>
        record(() => {
          db.prepare('DELETE FROM account_labels WHERE account_id = ? AND label = ?').run(
            accountId,
            label,
          );
        }),
      ),
    rename: (accountId, nickname) =>
      serialized(() =>
        record(() => {
          balanceOf(accountId);
          db.prepare('UPDATE accounts SET nickname = ? WHERE id = ?').run(nickname, accountId);
        }),
      ),
    setInterestRate: (rate) =>
      serialized(() =>
        record(() => {
          db.prepare('UPDATE accounts SET interest_rate = ?').run(rate);
        }),
      ),
    closeAccount: (accountId, beneficiary) =>
      serialized(() =>
        record(() => {
          if (accountId === beneficiary)
            throw new SampleAppError('beneficiary is the account itself');
          const balance = balanceOf(accountId);
          if (balance > 0n) {
            debit(accountId, balance);
            credit(beneficiary, balance);
          }
          db.prepare('DELETE FROM account_labels WHERE account_id = ?').run(accountId);
          db.prepare('DELETE FROM accounts WHERE id = ?').run(accountId);
        }),
      ),
    requestWithdrawal: (accountId, recipient, amount) =>
      serialized(async () => {
        const requestId = ids.uuidV4();
        await record(() => {
          positive(amount);
          debit(accountId, amount);
          db.prepare(
            "INSERT INTO withdrawals (request_id, account_id, recipient, amount, status, created_at) VALUES (?, ?, ?, ?, 'requested', ?)",
          ).run(requestId, accountId, recipient, amount.toString(), nowSeconds());
        });
        // The debit must be sequenced before the withdrawal it pays for.
        await flushChangesets();
        const receipt = await client.postWithdrawal({
          requestId,
          recipient,
          amount: amount.toString(),
          data: new TextEncoder().encode(`withdraw:${accountId}`),
        });
        sent.push({ kind: 'withdrawal', sequence: receipt.sequence, requestId });
        if (options.relayerUrl !== undefined) {
          await postToRelayer(options, receipt, {
            recipient,
            amount,
            data: new TextEncoder().encode(`withdraw:${accountId}`),
          });
        }
        await record(() => {
          db.prepare(
            "UPDATE withdrawals SET status = 'sequenced', sequence = ? WHERE request_id = ?",
          ).run(receipt.sequence, requestId);
        });
        return receipt;
      }),
    executeDdl: (sql) =>
      serialized(async () => {
        await flushChangesets();
        db.exec(sql);
        return snapshot();
      }),
    snapshot: () => serialized(snapshot),
    flushChangesets: () => serialized(flushChangesets),
    accounts: () => {
      return (
        db.prepare('SELECT id, owner, balance FROM accounts ORDER BY id').all() as {
          id: bigint;
          owner: string;
          balance: bigint;
        }[]
      ).map((r) => ({
        id: Number(r.id),
        owner: r.owner,
        balance: r.balance,
      }));
    },
    runWorkload: (workloadOptions) => runWorkload(app, workloadOptions),
    close: () => db.close(),
  };
  return app;
}

/**
 * Posts a sequenced withdrawal to a relayer's `/submit-withdrawal?wait=false` in the reference's
 * snake_case shape, with the sequencer's `bridge_signature`; failures are reported, not thrown.
 */
async function postToRelayer(
  options: SampleAppOptions,
  receipt: WithdrawalReceiptJson,
  withdrawal: { recipient: string; amount: bigint; data: Uint8Array },
): Promise<void> {
  const bridge = receipt.bridge_signature;
  try {
    const response = await fetch(
      `${options.relayerUrl!.replace(/\/+$/, '')}/submit-withdrawal?wait=false`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          message_id: bridge.message_id,
          target_address: withdrawal.recipient,
          payload: `0x${Buffer.from(withdrawal.data).toString('hex')}`,
          native_token_amount: withdrawal.amount.toString(),
          sequencer_signature: bridge.signature,
          sequence: bridge.sequence,
          timestamp: bridge.timestamp,
        }),
        signal: AbortSignal.timeout(5000),
      },
    );
    if (response.status !== 202 && response.status !== 200) {
      options.onRelayerError?.(
        bridge.message_id,
        `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`,
      );
    }
  } catch (error) {
    options.onRelayerError?.(bridge.message_id, (error as Error).message);
  }
}
