/**
 * Invariant rules end to end (issue 12 §4): the devnet sample app, a validator with a rules file.
 * A deposit that breaks a rule halts the validator at that sequence with nothing of it in the
 * replica; the halt (rule name and reason) shows in /status, the logs and the metrics, and is the
 * same after a restart with the same rules; a restart with a corrected rule set resumes by itself
 * and the replica equals the source.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { SigningKey } from 'ethers';
import { describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

interface StatusJson {
  state: string;
  last_sequence: number | null;
  halt: { code: string; kind: string; message: string; sequence: number } | null;
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('invariant rules (RULES_FILE)', { timeout: 120_000 }, () => {
  it('a violating message halts with the rule in /status, logs and metrics; a corrected rule set resumes', async () => {
    const dir = tempDir('validator-rules-');
    const { sequencer, url, app } = await startDevnetWithApp({ directory: dir, onCleanup });
    const alice = await app.openAccount('alice', 100n);
    const bob = await app.openAccount('bob', 50n);
    await app.transfer(alice, bob, 20n);
    await app.deposit(bob, 5_000n); // bob above 1000: breaks balance_cap
    const violating = app.sent.at(-1)!.sequence;
    await app.deposit(alice, 1n);
    const head = app.sent.at(-1)!.sequence;
    sequencer.flush();

    const rulesFile = join(dir, 'rules.json');
    const writeRules = (cap: number) =>
      writeFileSync(
        rulesFile,
        JSON.stringify([
          { name: 'no_negative_balance', sql: 'SELECT count(*) FROM accounts WHERE balance < 0' },
          {
            name: 'balance_cap',
            sql: `SELECT count(*) FROM accounts WHERE balance > ${cap}`,
          },
          { name: 'accounts_exist', sql: 'SELECT count(*) > 0 FROM accounts', expect: 1 },
        ]),
      );
    writeRules(1000);
    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({
      json: true,
      level: 'info',
      write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>),
    });
    const databasePath = join(dir, 'validator.db');
    const start = async (): Promise<ValidatorHandle> => {
      const v = await startValidator(
        {
          sequencerUrl: url,
          sequencerPubkey: sequencer.pubkeyHex,
          databasePath,
          bindAddress: '127.0.0.1:0',
          syncInterval: '50ms',
          batchIndexRefreshInterval: '100ms',
          gapRetryDelay: '200ms',
          queryWorkers: 0,
          rulesFile,
        },
        { logger },
      );
      onCleanup(() => v.stop());
      return v;
    };
    const status = async (v: ValidatorHandle) =>
      (await (await fetch(`${v.url}/status`)).json()) as StatusJson;
    const expectHalted = async (v: ValidatorHandle) => {
      await waitFor(async () => (await status(v)).halt !== null, 'a halt in /status');
      expect(await status(v)).toMatchObject({
        state: 'halted',
        last_sequence: violating - 1,
        halt: {
          code: 'RULE_VIOLATION',
          kind: 'rule',
          sequence: violating,
          message: `Rule balance_cap failed at sequence ${violating}: returned 1, expected 0`,
        },
      });
      // Nothing of the violating message is in the replica.
      const bobBalance = v.db.prepare('SELECT balance FROM accounts WHERE id = ?').pluck().get(bob);
      expect(bobBalance).toBe(70);
    };

    const first = await start();
    await expectHalted(first);
    const halts = logs.filter((l) => String(l.msg).startsWith('sync halted'));
    expect(halts).toHaveLength(1);
    expect(halts[0]).toMatchObject({
      level: 'error',
      code: 'RULE_VIOLATION',
      kind: 'rule',
      reason: `Rule balance_cap failed at sequence ${violating}: returned 1, expected 0`,
    });
    expect(logs.find((l) => l.msg === 'invariant rules')?.rules).toEqual([
      'no_negative_balance',
      'balance_cap',
      'accounts_exist',
    ]);
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metric(metrics, 'synddb_sync_halted')).toBe(1);
    expect(metric(metrics, 'synddb_sync_halts_total{reason="rule",code="RULE_VIOLATION"}')).toBe(1);
    expect(
      metric(metrics, 'synddb_validator_rule_failures_total{rule="balance_cap"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metric(metrics, 'synddb_validator_rule_failures_total{rule="no_negative_balance"}'),
    ).toBe(0);
    // every changeset message before it passed every rule (sequence 0 is the schema snapshot)
    expect(metric(metrics, 'synddb_validator_rule_evaluations_total{rule="accounts_exist"}')).toBe(
      violating - 1,
    );
    expect((await fetch(`${first.url}/ready`)).status).toBe(503);
    await first.stop();

    // The same rules after a restart: the same halt at the same sequence.
    const second = await start();
    await expectHalted(second);
    await second.stop();

    // A corrected rule set: resumes by itself and applies everything.
    writeRules(1_000_000);
    const third = await start();
    await waitFor(() => third.status().lastSequence === BigInt(head), `sequence ${head}`);
    expect(await status(third)).toMatchObject({ halt: null, last_sequence: head });
    const rows = (db: { prepare(sql: string): { all(): unknown[] } }) =>
      db
        .prepare('SELECT id, owner, balance FROM accounts ORDER BY id')
        .all()
        .map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
    expect(rows(third.db)).toEqual(rows(app.db as never));
  });

  it('refuses to start with a rules file that is not read-only queries', async () => {
    const dir = tempDir('validator-rules-bad-');
    const rulesFile = join(dir, 'rules.json');
    const config = {
      sequencerUrl: 'http://127.0.0.1:1',
      sequencerPubkey: new SigningKey(`0x${'11'.repeat(32)}`).publicKey.slice(4),
      databasePath: join(dir, 'v.db'),
      bindAddress: '127.0.0.1:0',
      queryWorkers: 0,
      rulesFile,
    };
    const logger = createLogger({ json: true, level: 'error', write: () => {} });
    for (const [rules, message] of [
      [[{ name: 'w', sql: 'DELETE FROM accounts' }], /read-only query/],
      [[{ name: 'w', sql: 'SELECT 0', extra: 1 }], /invalid/],
      [
        [
          { name: 'a', sql: 'SELECT 0' },
          { name: 'a', sql: 'SELECT 0' },
        ],
        /duplicate name a/,
      ],
      [
        [
          {
            name: 'slow',
            sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) - 5000000 FROM c',
          },
        ],
        /over RULE_TIME_LIMIT/,
      ],
    ] as const) {
      writeFileSync(rulesFile, JSON.stringify(rules));
      const failure = await startValidator({ ...config, ruleTimeLimit: '1ms' }, { logger }).then(
        (v) => {
          onCleanup(() => v.stop());
          return null;
        },
        (error: unknown) => error as Error & { walk(): unknown },
      );
      expect(failure, `${JSON.stringify(rules)}: ${failure?.message}`).toMatchObject({
        code: 'VALIDATOR_STARTUP',
      });
      expect(String((failure!.walk() as Error).message)).toMatch(message);
    }
  });
});
