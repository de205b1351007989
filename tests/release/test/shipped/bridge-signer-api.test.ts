/**
 * The built `synddb-validator` binary in bridge signer mode with withdrawal policies set by flags:
 * the plan's signature routes answer (`/signatures/withdrawal/{id}`, `/signatures/pending`,
 * `/signatures/refused`, `/signatures/state/{sequence}`, `/openapi.json`), refusals show in the
 * API, the log and the metrics, and a restart of the process changes no decision.
 */
import { join } from 'node:path';
import { createSequencerClient } from '@synddb/devnet';
import { tempDir } from '@synddb/test-support';
import { id as keccakText } from 'ethers';
import { describe, expect, it } from 'vitest';
import { type Devnet, startDevnet, startValidator, type Validator } from '../support/processes';
import { caughtUp, errorLines, validatorArgs } from '../support/validator-checks';

const ALICE = '0x00000000000000000000000000000000000a11ce';
const BOB = '0x0000000000000000000000000000000000000b0b';

interface WithdrawalJson {
  request_id: string;
  message_id: string | null;
  amount: string;
  status: string;
  signature: string | null;
  policy: string | null;
  reason: string | null;
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

async function start(devnet: Devnet, databasePath: string): Promise<Validator> {
  return startValidator(
    validatorArgs(devnet, databasePath, {
      extra: [
        '--bridge-signer-key',
        `0x${'45'.repeat(32)}`,
        '--withdrawal-max-amount',
        '1000000000000000000000',
        '--withdrawal-deny-recipients',
        BOB,
        '--query-workers',
        '0',
      ],
    }),
  );
}

describe('the built validator: bridge signer API and withdrawal policies', () => {
  it('serves the plan routes; refusals in API, log and metrics survive a restart', async () => {
    const dir = tempDir('synddb-dist-bridge-api-');
    const devnet = await startDevnet({
      directory: dir,
      args: ['--transactions', '5', '--rate', '100'],
    });
    await devnet.appDone();
    const client = createSequencerClient(devnet.url);
    const send = (requestId: string, recipient: string, amount: string) =>
      client.postWithdrawal({ requestId, recipient, amount, data: new Uint8Array() });
    await send('big-1', ALICE, '1000000000000000000001'); // above the maximum
    await send('deny-1', BOB, '1'); // denied recipient
    await send(`0X${'cd'.repeat(32)}`, ALICE, '5'); // accepted: keccak of the whole text
    await send(`0x${'12'.repeat(40)}`, ALICE, '6'); // accepted: the first 32 bytes
    const head = await devnet.flushedHead();

    const databasePath = join(dir, 'replica.db');
    const validator = await start(devnet, databasePath);
    await caughtUp(validator, head);
    const api = validator.signatureUrl!;

    const big = await getJson<WithdrawalJson[]>(`${api}/signatures/withdrawal/big-1`);
    expect(big).toMatchObject({
      status: 200,
      body: [
        {
          request_id: 'big-1',
          message_id: keccakText('big-1'),
          amount: '1000000000000000000001',
          status: 'refused',
          signature: null,
          policy: 'max_withdrawal',
        },
      ],
    });
    const refused = await getJson<{ count: number; withdrawals: WithdrawalJson[] }>(
      `${api}/signatures/refused`,
    );
    expect(refused.body.withdrawals.map((w) => [w.request_id, w.policy])).toEqual([
      ['big-1', 'max_withdrawal'],
      ['deny-1', 'recipient_deny_list'],
    ]);
    const upper = await getJson<WithdrawalJson[]>(
      `${api}/signatures/withdrawal/0X${'cd'.repeat(32)}`,
    );
    expect(upper.body[0]).toMatchObject({
      status: 'accepted',
      message_id: keccakText(`0X${'cd'.repeat(32)}`),
    });
    const long = await getJson<WithdrawalJson[]>(
      `${api}/signatures/withdrawal/0x${'12'.repeat(32)}`,
    );
    expect(long.body.map((w) => w.request_id)).toEqual([`0x${'12'.repeat(40)}`]);

    // every accepted withdrawal is signed and pending (no RPC: nothing completes)
    const pendingUrl = `${api}/signatures/pending`;
    const signed = async () => (await getJson<{ count: number }>(`${api}/pending`)).body.count;
    const pending = await getJson<{
      count: number;
      withdrawals: { request_id: string; amount: string }[];
    }>(pendingUrl);
    expect(pending.body.count).toBe(await signed());
    expect(pending.body.withdrawals.map((w) => w.request_id)).toContain(`0X${'cd'.repeat(32)}`);
    expect(pending.body.withdrawals.map((w) => w.request_id)).not.toContain('big-1');
    expect(await getJson(`${api}/signatures/state/1`)).toMatchObject({
      status: 404,
      body: { code: 'STATE_ATTESTATIONS_DISABLED' },
    });
    const openapi = await getJson<{ paths: Record<string, unknown> }>(`${api}/openapi.json`);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/signatures/withdrawal/{id}',
        '/signatures/pending',
        '/signatures/state/{sequence}',
      ]),
    );
    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^synddb_validator_withdrawals_refused_total\{policy="max_withdrawal"\} 1$/m,
    );
    expect(metrics).toMatch(/^synddb_validator_withdrawals\{status="refused"\} 2$/m);
    expect(validator.lines.filter((l) => l.includes('withdrawal refused'))).toHaveLength(2);
    expect(errorLines(validator.lines)).toEqual([]);
    validator.kill('SIGTERM');
    expect(await validator.exited).toEqual({ code: 0, signal: null });

    // the process restarts: the same decisions, not logged again
    const again = await start(devnet, databasePath);
    await caughtUp(again, head);
    expect((await getJson(`${again.signatureUrl!}/signatures/refused`)).body).toEqual(refused.body);
    expect(again.lines.filter((l) => l.includes('withdrawal refused'))).toEqual([]);
    const metrics2 = await (await fetch(`${again.url}/metrics`)).text();
    expect(metrics2).toMatch(/^synddb_validator_withdrawals\{status="refused"\} 2$/m);
    again.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });
});
