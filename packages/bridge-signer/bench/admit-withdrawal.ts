/**
 * Cost of deciding withdrawals in the apply transaction: `admitWithdrawal` (ledger row, day
 * totals, outbox entry) with no policy and with every built-in policy, against the baseline of
 * the previous handler (only the outbox entry), on a real SQLite file (WAL, synchronous=NORMAL),
 * 512 withdrawals per transaction as the sync engine groups them. Prints ratios to the baseline
 * measured in the same run.
 *
 *   pnpm --filter @synddb/bridge-signer bench [count]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WithdrawalRequest } from '@synddb/protocol';
import { openStateStore } from '@synddb/state-store';
import Database from 'better-sqlite3';
import { admitWithdrawal } from '../src/admit-withdrawal';
import { WithdrawalLedger } from '../src/ledger/withdrawal-ledger';
import { withdrawalValidators } from '../src/policy/withdrawal-validators';
import { withdrawalOutboxEntry } from '../src/withdrawal-outbox-entry';

const COUNT = Number(process.argv[2] ?? 20_000);
const PER_TRANSACTION = 512;
const recipients = Array.from(
  { length: 50 },
  (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`,
);

function request(i: number): WithdrawalRequest {
  return {
    requestId: `wd-${i}-3f2a0e9c-0000-4000-8000-${i.toString().padStart(12, '0')}`,
    recipient: recipients[i % recipients.length]!,
    amount: (10n ** 18n + BigInt(i)).toString(),
    data: new Uint8Array(),
  };
}

type Mode = 'outbox only (baseline)' | 'admit, no policy' | 'admit, 5 policies';

function run(mode: Mode): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-admit-'));
  const db = new Database(join(dir, 'replica.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const state = openStateStore(db);
  const ledger = new WithdrawalLedger(db);
  const validators =
    mode === 'admit, 5 policies'
      ? withdrawalValidators({
          maxWithdrawal: 10n ** 30n,
          recipientDailyLimit: 10n ** 40n,
          globalDailyCap: 10n ** 50n,
          allowRecipients: recipients,
          denyRecipients: ['0x00000000000000000000000000000000deadbeef'],
        })
      : [];
  const started = performance.now();
  for (let from = 0; from < COUNT; from += PER_TRANSACTION) {
    db.transaction(() => {
      for (let i = from; i < Math.min(COUNT, from + PER_TRANSACTION); i++) {
        const sequence = BigInt(i);
        const timestamp = 1_700_000_000n + BigInt(i); // crosses UTC days
        if (mode === 'outbox only (baseline)') {
          state.enqueue(withdrawalOutboxEntry({ sequence, request: request(i) }));
        } else {
          admitWithdrawal({ state, ledger, validators, sequence, timestamp, request: request(i) });
        }
        state.recordApplied(sequence, timestamp);
      }
    })();
  }
  const ms = performance.now() - started;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const modes: Mode[] = ['outbox only (baseline)', 'admit, no policy', 'admit, 5 policies'];
run('admit, 5 policies'); // warm-up
const results = modes.map((mode) => ({ mode, ms: Math.min(run(mode), run(mode)) }));
const base = results[0]!.ms;
console.log(`${COUNT} withdrawals, ${PER_TRANSACTION} per transaction (best of 2)`);
for (const { mode, ms } of results) {
  console.log(
    `${mode.padEnd(24)} ${ms.toFixed(0).padStart(6)} ms  ${Math.round((COUNT / ms) * 1000)
      .toString()
      .padStart(7)}/s  x${(ms / base).toFixed(2)}`,
  );
}
