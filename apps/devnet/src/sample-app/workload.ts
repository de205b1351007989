import { DevnetConfigError } from '../errors';
import type { SampleApp } from './create-sample-app';
import { SeededRandom } from './seeded-random';

export interface WorkloadOptions {
  /** Number of business transactions to run. */
  transactions: number;
  /** Same seed, same starting database -> same operations with the same values. */
  seed: number;
  /** Send a snapshot after every this many transactions (0 = never; the client default is 100). */
  snapshotEvery?: number;
  /**
   * Change the schema after every this many transactions (0 = never, the default): alternately
   * `ALTER TABLE accounts ADD COLUMN` (with a default) and `CREATE TABLE`, each followed by a
   * snapshot (`executeDdl`), as synddb-client does; later changesets carry the new columns.
   */
  schemaChangeEvery?: number;
  /** Include withdrawals (each is one transaction plus a `POST /withdrawals`). Default true. */
  withdrawals?: boolean;
  /** Wait this long between transactions, to generate traffic at a rate. Default 0. */
  delayMs?: number;
  /** Stop early when this signal aborts (the CLI's Ctrl-C). */
  signal?: AbortSignal;
}

export type WorkloadOperation =
  | 'openAccount'
  | 'deposit'
  | 'transfer'
  | 'setLabel'
  | 'removeLabel'
  | 'rename'
  | 'setInterestRate'
  | 'closeAccount'
  | 'withdrawal';

export interface WorkloadSummary {
  transactions: number;
  operations: Record<WorkloadOperation, number>;
  snapshots: number;
  schemaChanges: number;
}

const OWNERS = ['Alice', 'Bob', 'Charlie', 'Dana', 'Émile', 'Fatima', '李雷', 'Zoë'] as const;
const LABELS = ['tier', 'region', 'note', 'kyc'] as const;
const MEMOS = [null, 'rent', 'coffee ☕', 'invoice #42', '', 'it\'s "quoted"'] as const;

/**
 * Runs a deterministic mix of business transactions on the sample app: opening and closing
 * accounts, deposits (some beyond 2^53), transfers, label upserts and deletes on the composite-key
 * table, renames to text or NULL, a multi-row REAL update and withdrawals. Choices depend only on
 * the seed and the database state, so the same seed on the same starting state (and an app with
 * the same `idSeed`, which draws ids and stored random bytes) repeats exactly.
 * Flushes queued changesets at the end.
 */
export async function runWorkload(
  app: SampleApp,
  options: WorkloadOptions,
): Promise<WorkloadSummary> {
  const { transactions, seed } = options;
  const snapshotEvery = options.snapshotEvery ?? 0;
  const schemaChangeEvery = options.schemaChangeEvery ?? 0;
  if (!Number.isSafeInteger(schemaChangeEvery) || schemaChangeEvery < 0) {
    throw new DevnetConfigError(
      `schemaChangeEvery must be a non-negative integer, got ${schemaChangeEvery}`,
    );
  }
  if (!Number.isSafeInteger(transactions) || transactions < 0) {
    throw new DevnetConfigError(`transactions must be a non-negative integer, got ${transactions}`);
  }
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 0) {
    throw new DevnetConfigError(
      `snapshotEvery must be a non-negative integer, got ${snapshotEvery}`,
    );
  }
  const rng = new SeededRandom(seed);
  const operations: Record<WorkloadOperation, number> = {
    openAccount: 0,
    deposit: 0,
    transfer: 0,
    setLabel: 0,
    removeLabel: 0,
    rename: 0,
    setInterestRate: 0,
    closeAccount: 0,
    withdrawal: 0,
  };
  let snapshots = 0;
  let schemaChanges = 0;
  let done = 0;

  for (; done < transactions; done++) {
    if (options.signal?.aborted) break;
    const operation = await runOne(app, rng, options.withdrawals ?? true);
    operations[operation] += 1;
    if (snapshotEvery > 0 && (done + 1) % snapshotEvery === 0) {
      await app.snapshot();
      snapshots += 1;
    }
    if (schemaChangeEvery > 0 && (done + 1) % schemaChangeEvery === 0) {
      await app.executeDdl(schemaChange(app, schemaChanges));
      schemaChanges += 1;
      snapshots += 1;
    }
    if (options.delayMs !== undefined && options.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    }
  }
  await app.flushChangesets();
  return { transactions: done, operations, snapshots, schemaChanges };
}

/**
 * The `n`th schema change: even ones add a column with a default to `accounts` (existing rows
 * take the default; later changesets on `accounts` carry one more column), odd ones add a table
 * filled in the same statement batch. Names that already exist (an app that restarted on its
 * database) are skipped to the next free number.
 */
function schemaChange(app: SampleApp, n: number): string {
  const taken = (sql: string, name: string) =>
    (app.db.prepare(sql).all(name) as unknown[]).length > 0;
  let k = n;
  if (n % 2 === 0) {
    while (taken("SELECT 1 FROM pragma_table_info('accounts') WHERE name = ?", `attr_${k}`)) k += 2;
    return `ALTER TABLE accounts ADD COLUMN attr_${k} TEXT NOT NULL DEFAULT 'v${k}'`;
  }
  while (taken('SELECT 1 FROM sqlite_schema WHERE name = ?', `audit_${k}`)) k += 2;
  return `CREATE TABLE audit_${k} (id INTEGER PRIMARY KEY, note TEXT NOT NULL, at REAL);
INSERT INTO audit_${k} (note, at) VALUES ('created', ${k}.5), ('schema change ${k}', NULL)`;
}

async function runOne(
  app: SampleApp,
  rng: SeededRandom,
  withdrawals: boolean,
): Promise<WorkloadOperation> {
  const accounts = app.accounts();
  const roll = rng.float();
  if (accounts.length < 3 || roll < 0.1) {
    const owner = rng.pick(OWNERS);
    const nickname = rng.float() < 0.5 ? null : `${owner.toLowerCase()}-${rng.int(1, 999)}`;
    await app.openAccount(owner, BigInt(rng.int(0, 100_000)), nickname);
    return 'openAccount';
  }
  const account = rng.pick(accounts);
  const other = rng.pick(accounts.filter((a) => a.id !== account.id));
  if (roll < 0.2) {
    // Every tenth deposit is huge, to carry integers beyond 2^53 through the pipeline.
    const amount =
      rng.float() < 0.1 ? 2n ** 54n + BigInt(rng.int(1, 1_000_000)) : BigInt(rng.int(1, 50_000));
    await app.deposit(account.id, amount);
    return 'deposit';
  }
  if (roll < 0.55) {
    if (account.balance === 0n) {
      await app.deposit(account.id, BigInt(rng.int(1, 10_000)));
      return 'deposit';
    }
    const cap = account.balance < 1_000_000n ? Number(account.balance) : 1_000_000;
    await app.transfer(account.id, other.id, BigInt(rng.int(1, cap)), rng.pick(MEMOS));
    return 'transfer';
  }
  if (roll < 0.67) {
    await app.setLabel(
      account.id,
      rng.pick(LABELS),
      rng.float() < 0.2 ? null : `v${rng.int(0, 99)}`,
    );
    return 'setLabel';
  }
  if (roll < 0.72) {
    await app.removeLabel(account.id, rng.pick(LABELS));
    return 'removeLabel';
  }
  if (roll < 0.8) {
    await app.rename(account.id, rng.float() < 0.3 ? null : `nick-${rng.int(0, 9999)}`);
    return 'rename';
  }
  if (roll < 0.84) {
    await app.setInterestRate(rng.int(0, 500) / 10_000);
    return 'setInterestRate';
  }
  if (roll < 0.9 && accounts.length > 3) {
    await app.closeAccount(account.id, other.id);
    return 'closeAccount';
  }
  if (withdrawals && account.balance > 0n) {
    const recipient = `0x${Buffer.from(rng.bytes(20)).toString('hex')}`;
    const cap = account.balance < 1_000_000n ? Number(account.balance) : 1_000_000;
    await app.requestWithdrawal(account.id, recipient, BigInt(rng.int(1, cap)));
    return 'withdrawal';
  }
  await app.deposit(account.id, BigInt(rng.int(1, 10_000)));
  return 'deposit';
}
