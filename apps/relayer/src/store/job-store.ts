import { EventEmitter } from 'node:events';
import type { JournaledTransaction } from '@synddb/bridge-client';
import Database from 'better-sqlite3';
import { migrate } from './migrations';

/** A job's life: received -> collecting_signatures -> ready -> simulated -> signed -> broadcast -> confirmed | failed. */
export const JOB_STATES = [
  'received',
  'collecting_signatures',
  'ready',
  'simulated',
  'signed',
  'broadcast',
  'confirmed',
  'failed',
] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['confirmed', 'failed']);

export type JobKind = 'withdrawal' | 'register-key';

export interface Job {
  id: string;
  kind: JobKind;
  state: JobState;
  /** The validated request, as JSON text. */
  request: string;
  reason: string | null;
  attempts: number;
  nextAttemptAt: number;
  thresholdMetAt: number | null;
  txHash: string | null;
  /** Outcome details (JSON), e.g. the registered key. */
  result: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface JobEvent {
  at: number;
  state: JobState;
  detail: string | null;
}

export type TransactionStatus =
  | 'signed'
  | 'broadcast'
  | 'mined'
  | 'reverted'
  | 'rejected'
  | 'replaced'
  | 'dropped';

export interface StoredTransaction extends JournaledTransaction {
  jobId: string;
  step: string;
  status: TransactionStatus;
  blockNumber: number | null;
  gasUsed: string | null;
  createdAt: number;
}

export interface Transition {
  state: JobState;
  reason?: string | null;
  detail?: string | null;
  nextAttemptAt?: number;
  attempts?: number;
  txHash?: string | null;
  thresholdMetAt?: number | null;
  result?: string | null;
}

interface JobRow {
  id: string;
  kind: JobKind;
  state: JobState;
  request: string;
  reason: string | null;
  attempts: number;
  next_attempt_at: number;
  threshold_met_at: number | null;
  tx_hash: string | null;
  result: string | null;
  created_at: number;
  updated_at: number;
}

interface TxRow {
  hash: string;
  job_id: string;
  step: string;
  nonce: number;
  raw: string;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  gas_limit: string;
  status: TransactionStatus;
  block_number: number | null;
  gas_used: string | null;
  created_at: number;
}

const toJob = (r: JobRow): Job => ({
  id: r.id,
  kind: r.kind,
  state: r.state,
  request: r.request,
  reason: r.reason,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  thresholdMetAt: r.threshold_met_at,
  txHash: r.tx_hash,
  result: r.result,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toTx = (r: TxRow): StoredTransaction => ({
  hash: r.hash,
  jobId: r.job_id,
  step: r.step,
  nonce: r.nonce,
  raw: r.raw,
  maxFeePerGas: BigInt(r.max_fee_per_gas),
  maxPriorityFeePerGas: BigInt(r.max_priority_fee_per_gas),
  gasLimit: BigInt(r.gas_limit),
  status: r.status,
  blockNumber: r.block_number,
  gasUsed: r.gas_used,
  createdAt: r.created_at,
});

export interface JobStore {
  readonly path: string;
  /** Emits `transition` with the updated Job after every committed state change. */
  readonly events: EventEmitter<{ transition: [Job] }>;
  /** Inserts a new job (state received); an existing id returns the stored job and `created: false`. */
  insert(job: { id: string; kind: JobKind; request: string }): { job: Job; created: boolean };
  get(id: string): Job | null;
  list(filter: { state?: JobState | undefined; kind?: JobKind; limit: number; offset: number }): {
    jobs: Job[];
    total: number;
  };
  history(id: string): JobEvent[];
  /** Persists a state change and its history row in one transaction. */
  transition(id: string, change: Transition): Job;
  /** Non-terminal jobs due at `now`, earliest first. */
  due(now: number, limit: number, exclude: ReadonlySet<string>): Job[];
  countsByState(): Record<JobState, number>;
  /** Runs `fn`'s writes as one SQLite transaction (one commit, one fsync). */
  atomically<T>(fn: () => T): T;
  /** Journals a signed transaction (before its broadcast). */
  recordTransaction(jobId: string, step: string, tx: JournaledTransaction): void;
  markTransaction(
    hash: string,
    status: TransactionStatus,
    fields?: { blockNumber?: number; gasUsed?: bigint },
  ): void;
  /** Every transaction of the job, oldest first. */
  transactions(jobId: string): StoredTransaction[];
  /** The job's transactions still live (signed or broadcast), oldest first. */
  liveTransactions(jobId: string): StoredTransaction[];
  /** One past the highest nonce of any live transaction (0 when none). */
  nextLiveNonce(): number;
  /** The nonces of every live (signed or broadcast) transaction. */
  liveNonces(): number[];
  /** Writes to the database (readiness). */
  probeWritable(): void;
  close(): void;
}

/**
 * The relayer's memory: jobs, their history and every signed transaction in one SQLite file
 * (WAL, synchronous=FULL: a journaled transaction survives a power cut before it is broadcast).
 */
export function openJobStore(path: string, options: { now?: () => number } = {}): JobStore {
  const now = options.now ?? Date.now;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const events = new EventEmitter<{ transition: [Job] }>();
  events.setMaxListeners(0);

  const getRow = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?');
  const insertJob = db.prepare(
    'INSERT INTO jobs (id, kind, state, request, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
  );
  const insertEvent = db.prepare(
    'INSERT INTO job_events (job_id, at, state, detail) VALUES (?, ?, ?, ?)',
  );
  const insertTx = db.prepare(
    `INSERT INTO transactions (hash, job_id, step, nonce, raw, max_fee_per_gas, max_priority_fee_per_gas, gas_limit, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'signed', ?, ?) ON CONFLICT (hash) DO NOTHING`,
  );

  const insert = db.transaction((job: { id: string; kind: JobKind; request: string }) => {
    const t = now();
    const info = insertJob.run(job.id, job.kind, 'received', job.request, t, t, t);
    if (info.changes === 1) insertEvent.run(job.id, t, 'received', null);
    return { job: toJob(getRow.get(job.id)!), created: info.changes === 1 };
  });

  const transition = db.transaction((id: string, c: Transition) => {
    const t = now();
    const sets = ['state = ?', 'updated_at = ?'];
    const values: unknown[] = [c.state, t];
    const add = (column: string, value: unknown) => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (c.reason !== undefined) add('reason', c.reason);
    if (c.nextAttemptAt !== undefined) add('next_attempt_at', c.nextAttemptAt);
    if (c.attempts !== undefined) add('attempts', c.attempts);
    if (c.txHash !== undefined) add('tx_hash', c.txHash);
    if (c.thresholdMetAt !== undefined) add('threshold_met_at', c.thresholdMetAt);
    if (c.result !== undefined) add('result', c.result);
    const before = getRow.get(id);
    if (before === undefined) throw new Error(`no job ${id}`);
    db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    // history: every state change, and a changed reason within a state
    const detail = c.detail ?? c.reason ?? null;
    if (before.state !== c.state || (detail !== null && detail !== before.reason)) {
      insertEvent.run(id, t, c.state, detail);
    }
    return toJob(getRow.get(id)!);
  });

  return {
    path,
    events,
    insert: (job) => insert(job),
    get: (id) => {
      const row = getRow.get(id);
      return row === undefined ? null : toJob(row);
    },
    list({ state, kind, limit, offset }) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (state !== undefined) {
        where.push('state = ?');
        args.push(state);
      }
      if (kind !== undefined) {
        where.push('kind = ?');
        args.push(kind);
      }
      const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
      const jobs = db
        .prepare<unknown[], JobRow>(
          `SELECT * FROM jobs ${clause} ORDER BY created_at, id LIMIT ? OFFSET ?`,
        )
        .all(...args, limit, offset)
        .map(toJob);
      const total = (
        db
          .prepare<unknown[], { n: number }>(`SELECT count(*) AS n FROM jobs ${clause}`)
          .get(...args) as { n: number }
      ).n;
      return { jobs, total };
    },
    history: (id) =>
      db
        .prepare<[string], JobEvent>(
          'SELECT at, state, detail FROM job_events WHERE job_id = ? ORDER BY id',
        )
        .all(id),
    transition(id, change) {
      const job = transition(id, change);
      events.emit('transition', job);
      return job;
    },
    due(at, limit, exclude) {
      const rows = db
        .prepare<[number, number], JobRow>(
          "SELECT * FROM jobs WHERE state NOT IN ('confirmed', 'failed') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        )
        .all(at, limit + exclude.size);
      return rows
        .filter((r) => !exclude.has(r.id))
        .slice(0, limit)
        .map(toJob);
    },
    countsByState() {
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const row of db
        .prepare<[], { state: JobState; n: number }>(
          'SELECT state, count(*) AS n FROM jobs GROUP BY state',
        )
        .all()) {
        counts[row.state] = row.n;
      }
      return counts;
    },
    atomically: (fn) => db.transaction(fn)(),
    recordTransaction(jobId, step, tx) {
      const t = now();
      insertTx.run(
        tx.hash,
        jobId,
        step,
        tx.nonce,
        tx.raw,
        tx.maxFeePerGas.toString(),
        tx.maxPriorityFeePerGas.toString(),
        tx.gasLimit.toString(),
        t,
        t,
      );
    },
    markTransaction(hash, status, fields = {}) {
      db.prepare(
        'UPDATE transactions SET status = ?, block_number = coalesce(?, block_number), gas_used = coalesce(?, gas_used), updated_at = ? WHERE hash = ?',
      ).run(status, fields.blockNumber ?? null, fields.gasUsed?.toString() ?? null, now(), hash);
    },
    transactions: (jobId) =>
      db
        .prepare<[string], TxRow>(
          'SELECT * FROM transactions WHERE job_id = ? ORDER BY created_at, rowid',
        )
        .all(jobId)
        .map(toTx),
    liveTransactions: (jobId) =>
      db
        .prepare<[string], TxRow>(
          "SELECT * FROM transactions WHERE job_id = ? AND status IN ('signed', 'broadcast') ORDER BY created_at, rowid",
        )
        .all(jobId)
        .map(toTx),
    nextLiveNonce() {
      const row = db
        .prepare<[], { n: number | null }>(
          "SELECT max(nonce) AS n FROM transactions WHERE status IN ('signed', 'broadcast')",
        )
        .get();
      return row?.n === null || row?.n === undefined ? 0 : row.n + 1;
    },
    liveNonces: () =>
      db
        .prepare<[], { nonce: number }>(
          "SELECT DISTINCT nonce FROM transactions WHERE status IN ('signed', 'broadcast')",
        )
        .all()
        .map((r) => r.nonce),
    probeWritable() {
      db.prepare(
        "INSERT INTO meta (key, value) VALUES ('ready_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(String(now()));
    },
    close: () => db.close(),
  };
}
