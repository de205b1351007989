/**
 * Invariant rules in the engine, against the devnet sample app over HTTP: a failing rule halts at
 * its message (rolled back, cursor before it, earlier messages of the same batch and commit
 * group committed), the halt names the rule, and the engine resumes by itself when the rule
 * passes on a retry or after a restart with another rule set.
 */
import { nextEvent } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { createSqlRule, type RuleContext, type ValidationRule } from '../src/index';
import {
  dumpReplica,
  dumpSource,
  publishedHead,
  startDevnet,
  startEngine,
  waitForSequence,
} from './support';

/** A bank whose third changeset message (a deposit) takes alice above 1000. */
async function bank() {
  const devnet = await startDevnet({ batchMaxMessages: 16 });
  const alice = await devnet.app.openAccount('alice', 100n);
  const bob = await devnet.app.openAccount('bob', 50n);
  await devnet.app.deposit(alice, 2_000n);
  const violating = BigInt(devnet.app.sent.at(-1)!.sequence);
  await devnet.app.deposit(bob, 1n);
  const head = publishedHead(devnet);
  return { devnet, violating, head };
}

const balanceRow = (db: import('better-sqlite3').Database, owner: string) =>
  (db.prepare('SELECT balance FROM accounts WHERE owner = ?').pluck().get(owner) as number) ?? null;

describe('invariant rules', () => {
  it('a failing SQL rule halts at its message with nothing of it applied; a corrected rule set resumes', async () => {
    const { devnet, violating, head } = await bank();
    const seen: RuleContext[] = [];
    const spy: ValidationRule = {
      name: 'spy',
      validate: (_db, context) => {
        seen.push(context);
        return { ok: true };
      },
    };
    const cap = createSqlRule({
      name: 'balance_cap',
      sql: 'SELECT count(*) FROM accounts WHERE balance > 1000',
    });
    const first = startEngine({ url: devnet.url, pubkey: devnet.pubkey, rules: [spy, cap] });
    const [halt] = await nextEvent(first.engine, 'halted');
    expect(halt).toMatchObject({
      code: 'RULE_VIOLATION',
      kind: 'rule',
      sequence: violating,
      message: `Rule balance_cap failed at sequence ${violating}: returned 1, expected 0`,
    });
    // The messages before it committed (the cursor right before it), nothing of it did.
    expect(first.engine.status()).toMatchObject({ state: 'halted', lastSequence: violating - 1n });
    expect(balanceRow(first.db, 'alice')).toBe(100);
    // Only changeset messages are checked (not the schema snapshot at 0), each after its changes.
    expect(seen[0]!.sequence).toBe(1n);
    expect(seen.every((c) => c.sequence >= 1n && c.sequence <= violating)).toBe(true);
    // It keeps retrying and stays halted at the same sequence.
    await nextEvent(first.engine, 'retrying');
    expect(first.engine.status().halt).toMatchObject({ sequence: violating, kind: 'rule' });
    await first.engine.stop();
    first.db.close();

    // Restart on the same replica with a corrected rule set: it resumes and replicates exactly.
    const raised = createSqlRule({
      name: 'balance_cap',
      sql: 'SELECT count(*) FROM accounts WHERE balance > 1000000',
    });
    const second = startEngine(
      { url: devnet.url, pubkey: devnet.pubkey, rules: [raised] },
      first.path,
    );
    await waitForSequence(second.engine, head);
    expect(second.engine.status().halt).toBeNull();
    expect(dumpReplica(second.db)).toEqual(dumpSource(devnet.app.db));
  });

  it('a rule that passes on a later attempt resumes without a restart; a throwing rule fails', async () => {
    const { devnet, violating, head } = await bank();
    let attempts = 0;
    const flaky: ValidationRule = {
      name: 'flaky',
      validate: (_db, { sequence }) => {
        if (sequence !== violating) return { ok: true };
        attempts++;
        if (attempts === 1) throw new Error('oracle unavailable');
        return attempts < 3 ? { ok: false, reason: 'not yet' } : { ok: true };
      },
    };
    const { engine, db } = startEngine({ url: devnet.url, pubkey: devnet.pubkey, rules: [flaky] });
    const [halt] = await nextEvent(engine, 'halted');
    expect(halt).toMatchObject({
      code: 'RULE_VIOLATION',
      message: `Rule flaky failed at sequence ${violating}: oracle unavailable`,
    });
    const [resumed] = await nextEvent(engine, 'resumed');
    expect(resumed).toMatchObject({ sequence: violating, previous: { kind: 'rule' } });
    await waitForSequence(engine, head);
    expect(attempts).toBe(3);
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });
});
