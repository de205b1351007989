import { join } from 'node:path';
import type { WithdrawalRequest } from '@synddb/protocol';
import { openStateStore, type StateStore } from '@synddb/state-store';
import { onCleanup, tempDir, thrown } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import vectors from '../test/fixtures/withdrawal-message-id.json' with { type: 'json' };
import { admitWithdrawal } from './admit-withdrawal';
import { WithdrawalLedgerError, WithdrawalPolicyError } from './errors';
import { LEDGER_SCHEMA_KEY, LEDGER_SCHEMA_VERSION } from './ledger/ledger-migrations';
import { ALL_RECIPIENTS, WithdrawalLedger } from './ledger/withdrawal-ledger';
import { accept, refuse, type WithdrawalValidator } from './policy/withdrawal-validator';
import { type WithdrawalPolicyOptions, withdrawalValidators } from './policy/withdrawal-validators';
import { withdrawalOutboxEntry } from './withdrawal-outbox-entry';

const ALICE = '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707';
const BOB = '0x00000000000000000000000000000000000000b0';
const DAY = 86_400n;
const T0 = 20_000n * DAY; // a UTC midnight

interface Replica {
  file: string;
  db: Database.Database;
  state: StateStore;
  ledger: WithdrawalLedger;
}

function openReplica(file: string): Replica {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  onCleanup(() => {
    if (db.open) db.close();
  });
  const state = openStateStore(db, { now: () => 1 });
  return { file, db, state, ledger: new WithdrawalLedger(db, { now: () => 1 }) };
}

function freshReplica(): Replica {
  return openReplica(join(tempDir('bridge-ledger-'), 'replica.db'));
}

function request(requestId: string, amount: bigint | string, recipient = ALICE): WithdrawalRequest {
  return { requestId, recipient, amount: String(amount), data: new Uint8Array([1]) };
}

/** Applies one withdrawal message the way the sync engine does: decision and cursor in one transaction. */
function apply(
  r: Replica,
  timestamp: bigint,
  req: WithdrawalRequest,
  validators: readonly WithdrawalValidator[] = [],
) {
  return r.db.transaction(() => {
    const sequence = r.state.nextSequence();
    const decision = admitWithdrawal({
      state: r.state,
      ledger: r.ledger,
      validators,
      sequence,
      timestamp,
      request: req,
    });
    r.state.recordApplied(sequence, timestamp);
    return decision;
  })();
}

function dump(r: Replica): unknown[] {
  return [
    r.db.prepare('SELECT * FROM _synddb_withdrawals ORDER BY sequence').all(),
    r.db.prepare('SELECT * FROM _synddb_withdrawal_totals ORDER BY day, recipient').all(),
    r.db.prepare('SELECT message_id, sequence FROM _synddb_outbox ORDER BY sequence').all(),
  ];
}

describe('admitWithdrawal: the message id', () => {
  it('records every request-id vector under the sequencer id, and the refused ones as unsignable', () => {
    const r = freshReplica();
    for (const v of vectors.cases) {
      const d = apply(r, T0, request(v.request_id, 1n));
      if (v.message_id === null) {
        expect(d).toMatchObject({ status: 'unsignable', messageId: null, policy: 'message_id' });
        expect(d.reason).toMatch(/odd number of digits/);
      } else {
        expect(d).toMatchObject({ status: 'accepted', messageId: v.message_id });
      }
    }
    const refused = vectors.cases.filter((v) => v.message_id === null);
    expect(r.ledger.refused().map((w) => w.requestId)).toEqual(refused.map((v) => v.request_id));
    expect(r.ledger.refusedCount()).toBe(refused.length);
    // unsignable withdrawals are never queued for signing
    const queued = r.state.unsigned(1000).map((e) => e.messageId);
    for (const v of vectors.cases) {
      if (v.message_id !== null) expect(queued).toContain(v.message_id);
    }
    expect(r.state.unsigned(1000).every((e) => e.messageId.length === 66)).toBe(true);
  });

  it('marks a recipient or amount the sequencer would refuse as unsignable, capped', () => {
    const r = freshReplica();
    expect(apply(r, T0, request('a1', 1n, '0x1234'))).toMatchObject({
      status: 'unsignable',
      policy: 'recipient',
    });
    for (const amount of ['', '-1', '01', '1.5', ' 1', '0x10', (1n << 256n).toString()]) {
      expect(apply(r, T0, request(`a-${amount}`, amount))).toMatchObject({
        status: 'unsignable',
        policy: 'amount',
      });
    }
    const huge = apply(r, T0, request('a3', '9'.repeat(5000)));
    expect(huge.amount.length).toBeLessThan(1010);
    expect(apply(r, T0, request('a4', ((1n << 256n) - 1n).toString()))).toMatchObject({
      status: 'accepted',
    });
    expect(r.state.unsigned(100)).toHaveLength(1);
  });
});

describe('admitWithdrawal: built-in policies', () => {
  const policy = (options: WithdrawalPolicyOptions) => withdrawalValidators(options);

  it('per-withdrawal maximum and deny/allow lists refuse with the policy and a reason', () => {
    const r = freshReplica();
    const v = policy({ maxWithdrawal: 100n, denyRecipients: [BOB] });
    expect(apply(r, T0, request('m1', 100n), v).status).toBe('accepted');
    expect(apply(r, T0, request('m2', 101n), v)).toMatchObject({
      status: 'refused',
      policy: 'max_withdrawal',
      reason: 'amount 101 is above the per-withdrawal maximum 100',
    });
    expect(apply(r, T0, request('m3', 1n, BOB.toUpperCase().replace('0X', '0x')), v)).toMatchObject(
      { status: 'refused', policy: 'recipient_deny_list' },
    );
    const allow = policy({ allowRecipients: [ALICE.toLowerCase()] });
    expect(apply(r, T0, request('m4', 1n, ALICE), allow).status).toBe('accepted');
    expect(apply(r, T0, request('m5', 1n, BOB), allow)).toMatchObject({
      policy: 'recipient_allow_list',
    });
    // a refused withdrawal is not queued and not counted
    expect(r.state.unsigned(100).map((e) => e.sequence)).toEqual([0n, 3n]);
    expect(r.ledger.acceptedTotal(T0 / DAY, ALL_RECIPIENTS)).toBe(101n);
  });

  it('daily limits use the UTC day of the message timestamps and exact u256 sums', () => {
    const r = freshReplica();
    const big = 1n << 255n;
    const v = policy({ recipientDailyLimit: big + 10n, globalDailyCap: big + 15n });
    expect(apply(r, T0, request('d1', big), v).status).toBe('accepted');
    expect(apply(r, T0 + 10n, request('d2', 10n), v).status).toBe('accepted');
    // one more wei to alice on the same day is over her limit
    expect(apply(r, T0 + DAY - 1n, request('d3', 1n), v)).toMatchObject({
      status: 'refused',
      policy: 'recipient_daily_limit',
    });
    // bob may still receive, up to the global cap
    expect(apply(r, T0 + 20n, request('d4', 5n, BOB), v).status).toBe('accepted');
    expect(apply(r, T0 + 30n, request('d5', 1n, BOB), v)).toMatchObject({
      status: 'refused',
      policy: 'global_daily_cap',
    });
    // the next UTC day starts from zero, whatever the wall clock says
    expect(apply(r, T0 + DAY, request('d6', big + 10n), v).status).toBe('accepted');
    expect(r.ledger.acceptedTotal(T0 / DAY, ALICE.toLowerCase())).toBe(big + 10n);
    expect(r.ledger.acceptedTotal(T0 / DAY, ALL_RECIPIENTS)).toBe(big + 15n);
    expect(r.ledger.acceptedTotal(T0 / DAY + 1n, ALL_RECIPIENTS)).toBe(big + 10n);
  });

  it('decides the same on every replica and after a restart (state from the stream, not memory)', () => {
    const stream = Array.from({ length: 60 }, (_, i) => ({
      timestamp: T0 + BigInt(i) * 4000n, // crosses two UTC midnights
      req: request(`s-${i}`, BigInt(7 + ((i * 37) % 50)), i % 3 === 0 ? BOB : ALICE),
    }));
    const v = policy({ maxWithdrawal: 50n, recipientDailyLimit: 400n, globalDailyCap: 700n });
    const a = freshReplica();
    for (const m of stream) apply(a, m.timestamp, m.req, v);
    // replica b restarts (closes and reopens its file) every 7 messages
    let b = freshReplica();
    stream.forEach((m, i) => {
      if (i % 7 === 6) {
        b.db.close();
        b = openReplica(b.file);
      }
      apply(b, m.timestamp, m.req, v);
    });
    expect(dump(b)).toEqual(dump(a));
    const statuses = a.ledger.counts();
    expect(statuses.some((s) => s.status === 'refused')).toBe(true);
    expect(statuses.some((s) => s.status === 'accepted')).toBe(true);
  });
});

describe('admitWithdrawal: embedders validators', () => {
  it('a custom validator sees the withdrawal and the context; its refusal is recorded', () => {
    const r = freshReplica();
    const seen: unknown[] = [];
    const custom: WithdrawalValidator = {
      name: 'no_data_calls',
      validate: (w, c) => {
        seen.push({ id: w.messageId, amount: w.amount, day: c.day, today: c.acceptedToday() });
        return w.data.length > 0 && w.amount > 5n ? refuse('calldata with value') : accept();
      },
    };
    apply(r, T0, request('c1', 5n), [custom]);
    expect(apply(r, T0, request('c2', 6n), [custom])).toMatchObject({
      status: 'refused',
      policy: 'no_data_calls',
      reason: 'calldata with value',
    });
    expect(seen).toHaveLength(2);
    expect(seen[1]).toMatchObject({ amount: 6n, day: T0 / DAY, today: 5n });
  });

  it('a throwing or malformed validator rolls the message back (nothing recorded, halts)', () => {
    const r = freshReplica();
    const boom: WithdrawalValidator = {
      name: 'boom',
      validate: () => {
        throw new Error('rpc down');
      },
    };
    const error = thrown(() => apply(r, T0, request('t1', 1n), [boom]), WithdrawalPolicyError);
    expect([error.code, error.kind]).toEqual(['BRIDGE_POLICY', 'internal']);
    expect((error.cause as Error).message).toBe('rpc down');
    const bad = { name: 'bad', validate: () => ({ ok: 'yes' }) } as unknown as WithdrawalValidator;
    thrown(() => apply(r, T0, request('t2', 1n), [bad]), WithdrawalPolicyError);
    expect(r.state.cursor()).toBeNull();
    expect(dump(r)).toEqual([[], [], []]);
  });
});

describe('WithdrawalLedger', () => {
  it('records only inside a transaction and one decision per sequence', () => {
    const r = freshReplica();
    const row = {
      sequence: 0n,
      timestamp: T0,
      requestId: 'x',
      messageId: null,
      recipient: ALICE,
      amount: '1',
      status: 'unsignable' as const,
    };
    thrown(() => r.ledger.insert(row), WithdrawalLedgerError);
    r.db.transaction(() => r.ledger.insert(row))();
    thrown(() => r.db.transaction(() => r.ledger.insert(row))(), WithdrawalLedgerError);
  });

  it('carries over withdrawals queued before the ledger existed', () => {
    const file = join(tempDir('bridge-ledger-old-'), 'replica.db');
    const db = new Database(file);
    const state = openStateStore(db);
    db.transaction(() => {
      state.recordApplied(0n, T0);
      state.enqueue(withdrawalOutboxEntry({ sequence: 0n, request: request('old-1', 42n) }));
    })();
    db.close();
    const r = openReplica(file);
    expect(
      r.db.prepare('SELECT value FROM _synddb_meta WHERE key = ?').pluck().get(LEDGER_SCHEMA_KEY),
    ).toBe(String(LEDGER_SCHEMA_VERSION));
    expect(r.ledger.find('old-1', null)).toMatchObject([
      {
        sequence: 0n,
        requestId: 'old-1',
        recipient: ALICE.toLowerCase(),
        amount: '42',
        status: 'accepted',
      },
    ]);
  });

  it('refuses a schema written by a newer version', () => {
    const r = freshReplica();
    r.db.prepare("UPDATE _synddb_meta SET value = '99' WHERE key = ?").run(LEDGER_SCHEMA_KEY);
    const error = thrown(() => new WithdrawalLedger(r.db), WithdrawalLedgerError);
    expect(error.kind).toBe('state');
  });
});
