import { join } from 'node:path';
import { bytesToHex, type WithdrawalRequest } from '@synddb/protocol';
import { openStateStore, type StateStore } from '@synddb/state-store';
import { onCleanup, tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { admitWithdrawal } from '../admit-withdrawal';
import { withdrawalMessageId } from '../withdrawal-message-id';
import { LEDGER_MIGRATIONS, LEDGER_SCHEMA_KEY } from './ledger-migrations';
import { WithdrawalLedger } from './withdrawal-ledger';

const ALICE = '0x00000000000000000000000000000000000a11ce';
const T0 = 1_700_000_000n;
const SIGNATURE = { signature: `0x${'11'.repeat(65)}`, signer: `0x${'22'.repeat(20)}` };
const idOf = (requestId: string) => `0x${bytesToHex(withdrawalMessageId(requestId))}`;

function open(file = join(tempDir('bridge-ledger-open-'), 'replica.db')) {
  const db = new Database(file);
  onCleanup(() => {
    if (db.open) db.close();
  });
  const state = openStateStore(db, { now: () => 1 });
  return { db, state, ledger: new WithdrawalLedger(db, { now: () => 1 }) };
}

function admit(
  r: { db: Database.Database; state: StateStore; ledger: WithdrawalLedger },
  requestId: string,
) {
  const request: WithdrawalRequest = {
    requestId,
    recipient: ALICE,
    amount: '5',
    data: new Uint8Array(),
  };
  r.db.transaction(() => {
    const sequence = r.state.nextSequence();
    admitWithdrawal({
      state: r.state,
      ledger: r.ledger,
      validators: [],
      sequence,
      timestamp: T0,
      request,
    });
    r.state.recordApplied(sequence, T0);
  })();
}

const pendingIds = (ledger: WithdrawalLedger) => ledger.pending().map((w) => w.requestId);
const cursor = (blockNumber: bigint) => ({ chainId: 1n, bridge: ALICE, blockNumber });

describe('the pending list (open withdrawals)', () => {
  it('holds the first accepted withdrawal of each message id, once signed, until its completion', () => {
    const r = open();
    admit(r, 'wa');
    admit(r, 'wb');
    admit(r, 'wa'); // the same message id again: the Bridge knows it once
    expect(pendingIds(r.ledger)).toEqual([]); // nothing signed yet
    r.state.recordSignature(idOf('wa'), SIGNATURE);
    r.state.recordSignature(idOf('wb'), SIGNATURE);
    expect(pendingIds(r.ledger)).toEqual(['wa', 'wb']);
    expect(r.ledger.pendingCount()).toBe(2);
    const done = r.ledger.recordCompletions(
      [{ messageId: idOf('wa'), blockNumber: 7n, transactionHash: `0x${'33'.repeat(32)}` }],
      cursor(7n),
    );
    expect(done).toEqual({ added: 1, withdrawals: [idOf('wa')] });
    expect(pendingIds(r.ledger)).toEqual(['wb']);
    expect(r.ledger.pendingCount()).toBe(1);
    expect(r.ledger.find('wa', null).map((w) => w.completed?.blockNumber)).toEqual([7n, 7n]);
    // A completion seen before its withdrawal is replicated: never pending.
    r.ledger.recordCompletions(
      [{ messageId: idOf('wc'), blockNumber: 8n, transactionHash: `0x${'44'.repeat(32)}` }],
      cursor(8n),
    );
    admit(r, 'wc');
    r.state.recordSignature(idOf('wc'), SIGNATURE);
    expect(pendingIds(r.ledger)).toEqual(['wb']);
  });

  it('reads through the partial index, not the whole ledger', () => {
    const r = open();
    const plan = (sql: string) =>
      (r.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
        .map((row) => row.detail)
        .join('; ');
    const select =
      'SELECT w.sequence FROM _synddb_withdrawals w LEFT JOIN _synddb_outbox o ON o.message_id = w.message_id WHERE w.open = 1 AND o.signature IS NOT NULL ORDER BY w.sequence';
    expect(plan(select)).toMatch(/_synddb_withdrawals_open/);
    // A look-up by request id or message id uses indexes only (no scan of the ledger).
    const find = `SELECT sequence FROM _synddb_withdrawals WHERE sequence IN (
      SELECT sequence FROM _synddb_withdrawals WHERE message_id = '0x1' AND request_id = 'r'
      UNION SELECT sequence FROM _synddb_withdrawals WHERE (message_id IS NULL OR timestamp = 0) AND request_id = 'r'
      UNION SELECT sequence FROM _synddb_withdrawals WHERE message_id = '0x2')`;
    expect(plan(find)).toMatch(/_synddb_withdrawals_request_id_underived/);
    expect(plan(find)).not.toMatch(/SCAN _synddb_withdrawals(?! USING)/);
  });

  it('migrates a version-1 ledger: open rows are the ones the old query listed', () => {
    const file = join(tempDir('bridge-ledger-v1-'), 'replica.db');
    const db = new Database(file);
    const state = openStateStore(db, { now: () => 1 });
    db.exec(LEDGER_MIGRATIONS[0]!);
    db.prepare('INSERT INTO _synddb_meta (key, value) VALUES (?, ?)').run(LEDGER_SCHEMA_KEY, '1');
    const insert = db.prepare(
      `INSERT INTO _synddb_withdrawals (sequence, timestamp, day, request_id, message_id, recipient, amount, status)
       VALUES (?, 0, 0, ?, ?, ?, '5', ?)`,
    );
    insert.run(0, 'wa', idOf('wa'), ALICE, 'accepted');
    insert.run(1, 'wb', idOf('wb'), ALICE, 'accepted');
    insert.run(2, 'wa', idOf('wa'), ALICE, 'accepted');
    insert.run(3, 'wr', idOf('wr'), ALICE, 'refused');
    insert.run(4, 'x', null, ALICE, 'unsignable');
    // carried over with a message id an earlier version derived differently
    insert.run(5, 'wold', `0x${'77'.repeat(32)}`, ALICE, 'refused');
    db.prepare(
      'INSERT INTO _synddb_bridge_completions (message_id, block_number, transaction_hash, recorded_at) VALUES (?, 1, ?, 1)',
    ).run(idOf('wb'), `0x${'55'.repeat(32)}`);
    db.close();
    const r = open(file);
    expect(
      r.db.prepare('SELECT sequence FROM _synddb_withdrawals WHERE open = 1').pluck().all(),
    ).toEqual([0]);
    // Found by request id whether or not its message id is derived from it.
    expect(r.ledger.find('wold', null).map((w) => w.sequence)).toEqual([5n]);
    expect(r.ledger.find('x', null).map((w) => w.sequence)).toEqual([4n]);
    expect(r.ledger.find('wa', null).map((w) => w.sequence)).toEqual([0n, 2n]);
    expect(r.ledger.find('nope', idOf('wb')).map((w) => w.sequence)).toEqual([1n]);
    void state;
  });
});
