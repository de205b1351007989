/**
 * Withdrawal policies and the plan's signature routes end to end (devnet sequencer with a fixed
 * clock, a validator in bridge signer mode): every refusal shows up in the API, the logs and the
 * metrics, survives a restart unchanged (decisions and day totals come from the replica, not from
 * memory), and a second validator replaying the same stream from scratch decides the same.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import type { WithdrawalValidator } from '@synddb/bridge-signer';
import { startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { id as keccakText, SigningKey } from 'ethers';
import { describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const ALICE = '0x00000000000000000000000000000000000a11ce';
const BOB = '0x0000000000000000000000000000000000000b0b';
const CAROL = '0x00000000000000000000000000000000000ca401';
const DAY_MS = 86_400_000;

interface WithdrawalJson {
  request_id: string;
  message_id: string | null;
  recipient: string;
  amount: string;
  sequence: number;
  status: string;
  signature: string | null;
  policy: string | null;
  reason: string | null;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const noCalldata: WithdrawalValidator = {
  name: 'no_calldata',
  validate: (w) =>
    w.data.length > 0 ? { ok: false, reason: 'calldata is not allowed' } : { ok: true },
};

describe('withdrawal policies', { timeout: 90_000 }, () => {
  it('refusals appear in the API, logs and metrics, survive a restart, and replicas agree', async () => {
    const dir = tempDir('validator-policies-');
    let clock = Date.UTC(2026, 0, 1, 10); // 10:00 UTC
    const { sequencer, url, app } = await startDevnetWithApp({
      directory: dir,
      onCleanup,
      sequencer: { batchMaxMessages: 4, clock: () => clock },
    });
    const send = (requestId: string, recipient: string, amount: number, data = new Uint8Array()) =>
      app.client.postWithdrawal({ requestId, recipient, amount: String(amount), data });
    const hex80 = 'ef'.repeat(40);
    await send('r1', ALICE, 100); // accepted
    await send('r2', ALICE, 600); // above the per-withdrawal maximum
    await send('r3', BOB, 10); // denied recipient
    await send('r4', ALICE, 250); // alice's day total would be 350 > 300
    await send(`0X${'ab'.repeat(32)}`, CAROL, 50); // accepted, keccak of the whole text
    await send(hex80, CAROL, 60); // accepted, the first 32 bytes
    await send('r7', CAROL, 10, new Uint8Array([1])); // the embedder's validator refuses
    clock += DAY_MS; // next UTC day: alice starts from zero
    const last = await send('r8', ALICE, 250);
    sequencer.flush();

    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ global_daily_cap: '1000', deny_recipients: [BOB] }));
    const config = (databasePath: string) => ({
      sequencerUrl: url,
      sequencerPubkey: sequencer.pubkeyHex,
      databasePath,
      bindAddress: '127.0.0.1:0',
      bridgeSigner: true,
      bridgeChainId: 31337n,
      bridgeSignatureEndpoint: '127.0.0.1:0',
      bridgeSignerKey: `0x${'44'.repeat(32)}`,
      syncInterval: '50ms',
      batchIndexRefreshInterval: '100ms',
      queryWorkers: 0,
      withdrawalMaxAmount: '500',
      withdrawalRecipientDailyLimit: '300',
      withdrawalPolicyFile: policyFile,
    });
    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({
      json: true,
      level: 'info',
      write: (l) => logs.push(JSON.parse(l) as Record<string, unknown>),
    });
    const start = async (databasePath: string): Promise<ValidatorHandle> => {
      const v = await startValidator(config(databasePath), {
        logger,
        withdrawalValidators: [noCalldata],
      });
      onCleanup(() => v.stop());
      return v;
    };
    const synced = (v: ValidatorHandle, sequence: number) =>
      waitFor(() => v.status().lastSequence === BigInt(sequence), `validator at ${sequence}`);

    const databasePath = join(dir, 'a', 'validator.db');
    const first = await start(databasePath);
    await synced(first, last.sequence);
    const api = first.bridge!.url;

    // GET /signatures/withdrawal/{request id}: the refusal with its policy and reason
    const r2 = await getJson<WithdrawalJson[]>(`${api}/signatures/withdrawal/r2`);
    expect(r2.status).toBe(200);
    expect(r2.body).toMatchObject([
      {
        request_id: 'r2',
        recipient: ALICE,
        amount: '600',
        status: 'refused',
        signature: null,
        policy: 'max_withdrawal',
        reason: 'amount 600 is above the per-withdrawal maximum 500',
      },
    ]);
    const refused = await getJson<{ count: number; withdrawals: WithdrawalJson[] }>(
      `${api}/signatures/refused`,
    );
    const expectedRefusals = [
      ['r2', 'max_withdrawal'],
      ['r3', 'recipient_deny_list'],
      ['r4', 'recipient_daily_limit'],
      ['r7', 'no_calldata'],
    ];
    expect(refused.body.count).toBe(4);
    expect(refused.body.withdrawals.map((w) => [w.request_id, w.policy])).toEqual(expectedRefusals);

    // the sequencer's ids: 0X is not stripped (keccak of the text), long hex keeps 32 bytes
    const upper = await getJson<WithdrawalJson[]>(
      `${api}/signatures/withdrawal/0X${'ab'.repeat(32)}`,
    );
    expect(upper.body[0]!.message_id).toBe(keccakText(`0X${'ab'.repeat(32)}`));
    const long = await getJson<WithdrawalJson[]>(`${api}/signatures/withdrawal/${hex80}`);
    expect(long.body[0]!.message_id).toBe(`0x${hex80.slice(0, 64)}`);

    // GET /signatures/pending: the four accepted ones, signed, with recipient and amount
    const pendingUrl = `${api}/signatures/pending`;
    await waitFor(
      async () => (await getJson<{ count: number }>(pendingUrl)).body.count === 4,
      'signed',
    );
    const pending = await getJson<{ count: number; withdrawals: WithdrawalJson[] }>(pendingUrl);
    expect(pending.body.withdrawals.map((w) => [w.request_id, w.recipient, w.amount])).toEqual([
      ['r1', ALICE, '100'],
      [`0X${'ab'.repeat(32)}`, CAROL, '50'],
      [hex80, CAROL, '60'],
      ['r8', ALICE, '250'],
    ]);
    expect((await getJson<{ count: number }>(`${api}/pending`)).body.count).toBe(4);
    // a refused withdrawal has no signature to serve
    expect((await fetch(`${api}/signature/${keccakText('r2')}`)).status).toBe(404);
    expect(await getJson(`${api}/signatures/state/3`)).toEqual({
      status: 404,
      body: {
        error: 'state attestations are not enabled on this validator',
        code: 'STATE_ATTESTATIONS_DISABLED',
      },
    });
    const openapi = await getJson<{ paths: Record<string, unknown> }>(`${api}/openapi.json`);
    expect(Object.keys(openapi.body.paths)).toContain('/signatures/withdrawal/{id}');

    // logs and metrics
    const refusalLogs = logs.filter((l) => String(l.msg).startsWith('withdrawal refused'));
    expect(refusalLogs.map((l) => [l.requestId, l.policy, l.level])).toEqual(
      expectedRefusals.map(([id, policy]) => [id, policy, 'warn']),
    );
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(
      metric(metrics, 'synddb_validator_withdrawals_refused_total{policy="max_withdrawal"}'),
    ).toBe(1);
    expect(
      metric(metrics, 'synddb_validator_withdrawals_refused_total{policy="no_calldata"}'),
    ).toBe(1);
    expect(metric(metrics, 'synddb_validator_withdrawals{status="refused"}')).toBe(4);
    expect(metric(metrics, 'synddb_validator_withdrawals{status="accepted"}')).toBe(4);
    await waitFor(
      async () =>
        metric(
          await (await fetch(`${first.url}/metrics`)).text(),
          'synddb_validator_withdrawals_pending',
        ) === 4,
      'the pending gauge at 4',
    );
    await first.stop();

    // restart: the same decisions, nothing re-logged; day totals come from the replica
    const logsBefore = logs.length;
    const second = await start(databasePath);
    const api2 = second.bridge!.url;
    expect((await getJson(`${api2}/signatures/refused`)).body).toEqual(refused.body);
    const metrics2 = await (await fetch(`${second.url}/metrics`)).text();
    expect(metric(metrics2, 'synddb_validator_withdrawals{status="refused"}')).toBe(4);
    expect(
      metric(metrics2, 'synddb_validator_withdrawals_refused_total{policy="max_withdrawal"}'),
    ).toBeUndefined();
    const r9 = await send('r9', ALICE, 100); // day 2: 250 + 100 > 300
    sequencer.flush();
    await synced(second, r9.sequence);
    expect(
      (await getJson<WithdrawalJson[]>(`${api2}/signatures/withdrawal/r9`)).body,
    ).toMatchObject([{ status: 'refused', policy: 'recipient_daily_limit' }]);
    expect(
      logs
        .slice(logsBefore)
        .filter((l) => String(l.msg).startsWith('withdrawal refused'))
        .map((l) => l.requestId),
    ).toEqual(['r9']);

    // a second validator replaying the stream from scratch decides exactly the same
    const otherPath = join(dir, 'b', 'validator.db');
    const other = await start(otherPath);
    await synced(other, r9.sequence);
    await second.stop();
    await other.stop();
    const ledger = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return [
          db.prepare('SELECT * FROM _synddb_withdrawals ORDER BY sequence').all(),
          db.prepare('SELECT * FROM _synddb_withdrawal_totals ORDER BY day, recipient').all(),
        ];
      } finally {
        db.close();
      }
    };
    expect(ledger(otherPath)).toEqual(ledger(databasePath));
  });

  it('refuses a malformed policy file, or a policy set twice, at startup', async () => {
    const dir = tempDir('validator-policy-file-');
    const file = join(dir, 'policy.json');
    const base = {
      sequencerUrl: 'http://127.0.0.1:9',
      sequencerPubkey: new SigningKey(`0x${'22'.repeat(32)}`).publicKey.slice(4),
      databasePath: join(dir, 'replica.db'),
      bindAddress: '127.0.0.1:0',
      bridgeSigner: true,
      bridgeChainId: 31337n,
      bridgeSignatureEndpoint: '127.0.0.1:0',
      bridgeSignerKey: `0x${'44'.repeat(32)}`,
      queryWorkers: 0,
      withdrawalPolicyFile: file,
    };
    const logger = createLogger({ json: true, write: () => {} });
    const failure = async (config: object) =>
      (await startValidator(config as never, { logger }).catch((e: unknown) => e)) as {
        shortMessage: string;
        cause: { code: string; details: string };
      };
    writeFileSync(file, JSON.stringify({ max_withdrawal: '01' }));
    let error = await failure(base);
    expect(error.shortMessage).toMatch(/withdrawal policies/);
    expect(error.cause.code).toBe('BRIDGE_POLICY_CONFIG');
    expect(error.cause.details).toMatch(/max_withdrawal/);
    writeFileSync(file, JSON.stringify({ max_withdrawal: '5', unknown: 1 }));
    expect((await failure(base)).cause.details).toMatch(/unknown/i);
    writeFileSync(file, JSON.stringify({ max_withdrawal: '5' }));
    error = await failure({ ...base, withdrawalMaxAmount: '6' });
    expect(error.cause.code).toBe('BRIDGE_POLICY_CONFIG');
    expect(error.cause).toMatchObject({ shortMessage: expect.stringMatching(/both/) });
  });
});
