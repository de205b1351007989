/**
 * The relayer end to end, in-process, with real parts: anvil and the test Bridge (threshold 2 of
 * 3 Validator keys), the devnet sequencer and sample app, and three built `synddb-validator`
 * processes in bridge signer mode. Every withdrawal the sample app makes lands on-chain exactly
 * once (one MessageHandled each) with validator signatures the relayer checked itself; the jobs
 * API shows each one's history; one validator down still completes; a validator serving a
 * signature from an unregistered key is excluded and the call still succeeds; an unfunded
 * account makes /ready fail and jobs wait until it is funded; an RPC path dropping or delaying
 * 10% of requests still lands everything exactly once.
 */
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { createSampleApp } from '@synddb/devnet';
import { ANVIL_KEYS } from '@synddb/test-contracts';
import { onCleanup, waitFor } from '@synddb/test-support';
import { startJsonRpcFaultProxy } from '@synddb/test-support/chain';
import { parseEther, id as topicOf, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { type RelayerHandle, startRelayer } from '../src/start-relayer';
import {
  type RelayerEnvironment,
  startRelayerEnvironment,
  submitBody,
} from './support/environment';

const MESSAGE_HANDLED = topicOf('MessageHandled(bytes32,bool)');

async function relayerFor(
  env: RelayerEnvironment,
  overrides: Record<string, unknown> = {},
): Promise<RelayerHandle> {
  const relayer = await startRelayer(
    {
      rpcUrl: [env.anvil.url],
      chainId: 31337n,
      bridgeAddress: env.chain.addresses.bridge,
      privateKey: env.relayerKey,
      validatorUrl: env.validators.map((v) => v.signatureUrl),
      listenAddr: '127.0.0.1:0',
      databasePath: join(env.directory, 'relayer.db'),
      pollInterval: '100ms',
      maxBackoff: '1s',
      validatorTimeout: '1s',
      txConfirmationTimeoutSecs: 30,
      ...overrides,
    },
    {
      logger: createLogger({
        level: process.env.SYNDDB_TEST_ECHO === '1' ? 'debug' : 'error',
        write: (l) => process.env.SYNDDB_TEST_ECHO === '1' && console.log(`[relayer] ${l}`),
      }),
    },
  );
  onCleanup(() => relayer.stop());
  return relayer;
}

/** Makes `n` withdrawals through the sample app; returns the bodies to submit. */
async function withdrawals(env: RelayerEnvironment, n: number) {
  const account = await env.devnet.app.openAccount(`owner-${Math.random()}`, 10_000_000n);
  const bodies = [];
  for (let i = 0; i < n; i++) {
    const recipient = Wallet.createRandom().address.toLowerCase();
    const amount = BigInt(1000 + i);
    const receipt = await env.devnet.app.requestWithdrawal(account, recipient, amount);
    bodies.push(
      submitBody(receipt, recipient, amount, new TextEncoder().encode(`withdraw:${account}`)),
    );
  }
  env.devnet.sequencer.flush();
  return bodies;
}

async function post(relayer: RelayerHandle, body: unknown, wait = true) {
  const response = await fetch(`${relayer.url}/submit-withdrawal${wait ? '' : '?wait=false'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** MessageHandled events per message id on the chain. */
async function handledCounts(env: RelayerEnvironment): Promise<Map<string, number>> {
  const logs = await env.chain.provider.getLogs({
    address: env.chain.addresses.bridge,
    topics: [MESSAGE_HANDLED],
    fromBlock: 0,
  });
  const counts = new Map<string, number>();
  for (const log of logs) counts.set(log.topics[1]!, (counts.get(log.topics[1]!) ?? 0) + 1);
  return counts;
}

async function revertedRelayerTransactions(env: RelayerEnvironment, relayer: RelayerHandle) {
  let reverted = 0;
  const head = await env.chain.provider.getBlockNumber();
  for (let b = 0; b <= head; b++) {
    const block = await env.chain.provider.getBlock(b, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== relayer.address.toLowerCase()) continue;
      const receipt = await env.chain.provider.getTransactionReceipt(tx.hash);
      if (receipt?.status !== 1) reverted++;
    }
  }
  return reverted;
}

describe('synddb-relayer end to end', { timeout: 120_000 }, () => {
  it('lands every withdrawal exactly once with threshold signatures, and shows each history', async () => {
    const env = await startRelayerEnvironment();
    const relayer = await relayerFor(env);
    const bodies = await withdrawals(env, 4);
    // the reference's synchronous answer: 200 confirmed with the transaction hash
    const first = await post(relayer, bodies[0]);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'confirmed', error: null });
    expect(first.body.tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    // the same message again: the same job, not a second transaction
    const again = await post(relayer, bodies[0]);
    expect(again.body).toMatchObject({ status: 'confirmed', tx_hash: first.body.tx_hash });
    // different content under the same id is refused
    const forged = await post(relayer, { ...bodies[0], native_token_amount: '999999' });
    expect(forged.status).toBe(409);
    // the rest without waiting
    for (const body of bodies.slice(1)) expect((await post(relayer, body, false)).status).toBe(202);
    await waitFor(
      async () => {
        const page = (await (await fetch(`${relayer.url}/withdrawals?state=confirmed`)).json()) as {
          total: number;
        };
        return page.total === bodies.length;
      },
      { what: 'every withdrawal confirmed', timeoutMs: 60_000, intervalMs: 200 },
    );
    const counts = await handledCounts(env);
    for (const body of bodies) expect(counts.get(body.message_id)).toBe(1);
    for (const body of bodies) {
      expect(await env.chain.provider.getBalance(body.target_address)).toBe(
        BigInt(body.native_token_amount),
      );
    }
    const job = (await (
      await fetch(`${relayer.url}/withdrawals/${bodies[1]!.message_id}`)
    ).json()) as {
      state: string;
      history: { state: string }[];
      transactions: { status: string; step: string }[];
    };
    expect(job.state).toBe('confirmed');
    const states = job.history.map((h) => h.state);
    for (const s of ['received', 'ready', 'simulated', 'signed', 'broadcast', 'confirmed']) {
      expect(states).toContain(s);
    }
    expect(states.indexOf('signed')).toBeLessThan(states.indexOf('broadcast'));
    expect(job.transactions).toMatchObject([{ status: 'mined', step: 'initialize-and-handle' }]);
    const metrics = await (await fetch(`${relayer.url}/metrics`)).text();
    expect(metrics).toMatch(/synddb_relayer_jobs\{state="confirmed"\} 4/);
    expect(metrics).toMatch(/synddb_relayer_submissions_total\{step="initialize-and-handle"\} 4/);
    expect(metrics).toMatch(/synddb_relayer_threshold_to_confirmation_seconds_count 4/);
    expect((await fetch(`${relayer.url}/health`)).status).toBe(200);
    const ready = await fetch(`${relayer.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await revertedRelayerTransactions(env, relayer)).toBe(0);

    // one validator down: two signatures still meet the threshold
    await env.validators[0]!.stop();
    const [late] = await withdrawals(env, 1);
    const down = await post(relayer, late);
    expect(down.body).toMatchObject({ status: 'confirmed' });
    expect((await handledCounts(env)).get(late!.message_id)).toBe(1);
    // two down: below the threshold, the job waits, visible, without a transaction
    await env.validators[1]!.stop();
    const [stuck] = await withdrawals(env, 1);
    expect((await post(relayer, stuck, false)).status).toBe(202);
    const waiting = await waitFor(
      async () => {
        const j = (await (
          await fetch(`${relayer.url}/withdrawals/${stuck!.message_id}`)
        ).json()) as {
          state: string;
          reason: string | null;
          attempts: number;
          transactions: unknown[];
        };
        return j.state === 'collecting_signatures' && j.reason?.startsWith('1 of 2') ? j : null;
      },
      { what: 'the job waiting for signatures', timeoutMs: 20_000 },
    );
    expect(waiting.attempts).toBeGreaterThan(0);
    expect(waiting.transactions).toEqual([]);
  });

  it('excludes a validator signing with an unregistered key, and lands the call', async () => {
    const env = await startRelayerEnvironment({ unregistered: [1] });
    const relayer = await relayerFor(env);
    const bodies = await withdrawals(env, 2);
    // The impostor must have signed before the relayer asks: it asks every validator at once and
    // goes on with the first threshold of good signatures, so an impostor still syncing would
    // only be missing, not rejected.
    for (const body of bodies) {
      await waitFor(
        async () => {
          const url = `${env.validators[1]!.signatureUrl}/signature/${body.message_id}`;
          return (await fetch(url)).status === 200 ? true : null;
        },
        { what: 'the impostor validator signing', timeoutMs: 30_000 },
      );
    }
    for (const body of bodies) {
      const answer = await post(relayer, body);
      expect(answer.body).toMatchObject({ status: 'confirmed' });
    }
    const metrics = await (await fetch(`${relayer.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `synddb_relayer_signatures_rejected_total\\{validator="${env.validators[1]!.signatureUrl}",reason="unregistered_signer"\\} [1-9]`,
      ),
    );
    expect(await revertedRelayerTransactions(env, relayer)).toBe(0);
  });

  it('fails /ready for an unfunded account; jobs wait and complete once it is funded', async () => {
    const broke = Wallet.createRandom();
    const env = await startRelayerEnvironment({ relayerKey: broke.privateKey });
    const relayer = await relayerFor(env);
    const ready = await fetch(`${relayer.url}/ready`);
    expect(ready.status).toBe(503);
    expect(
      ((await ready.json()) as { checks: { balance: { ok: boolean } } }).checks.balance.ok,
    ).toBe(false);
    const [body] = await withdrawals(env, 1);
    expect((await post(relayer, body, false)).status).toBe(202);
    const waiting = await waitFor(
      async () => {
        const j = (await (
          await fetch(`${relayer.url}/withdrawals/${body!.message_id}`)
        ).json()) as {
          state: string;
          reason: string | null;
        };
        return j.reason?.includes('insufficient funds') ? j : null;
      },
      { what: 'the job waiting for funds', timeoutMs: 20_000 },
    );
    expect(waiting.state).not.toBe('failed');
    const funder = new Wallet(ANVIL_KEYS[5], env.chain.provider);
    await (await funder.sendTransaction({ to: broke.address, value: parseEther('1') })).wait();
    await waitFor(
      async () =>
        (
          (await (await fetch(`${relayer.url}/withdrawals/${body!.message_id}`)).json()) as {
            state: string;
          }
        ).state === 'confirmed',
      { what: 'the job confirmed after funding', timeoutMs: 30_000, intervalMs: 100 },
    );
    expect((await fetch(`${relayer.url}/ready`)).status).toBe(200);
    expect((await handledCounts(env)).get(body!.message_id)).toBe(1);
  });

  it('lands every withdrawal exactly once through an RPC path dropping or delaying 10% of requests', async () => {
    const env = await startRelayerEnvironment();
    const proxy = await startJsonRpcFaultProxy({
      upstream: env.anvil.url,
      dropRate: 0.1,
      delayRate: 0.1,
      maxDelayMs: 300,
      seedLabel: 'relayer-rpc-faults',
    });
    onCleanup(() => proxy.close());
    const relayer = await relayerFor(env, {
      rpcUrl: [proxy.url],
      rpcTimeout: '1s',
      txReplaceAfter: '3s',
    });
    const bodies = await withdrawals(env, 8);
    for (const body of bodies) expect((await post(relayer, body, false)).status).toBe(202);
    await waitFor(
      async () => {
        const page = (await (await fetch(`${relayer.url}/withdrawals?state=confirmed`)).json()) as {
          total: number;
        };
        return page.total === bodies.length;
      },
      { what: 'every withdrawal confirmed through faults', timeoutMs: 90_000, intervalMs: 200 },
    );
    const counts = await handledCounts(env);
    for (const body of bodies) expect(counts.get(body.message_id)).toBe(1);
    expect(proxy.stats().dropped).toBeGreaterThan(0);
    expect(await revertedRelayerTransactions(env, relayer)).toBe(0);
  });

  it("takes the devnet sample app's withdrawals (synddb-devnet --relayer-url) and lands them", async () => {
    const env = await startRelayerEnvironment();
    const relayer = await relayerFor(env);
    const refused: string[] = [];
    const app = createSampleApp({
      sequencerUrl: env.devnet.url,
      dbPath: join(env.directory, 'posting-app.db'),
      relayerUrl: relayer.url,
      onRelayerError: (id, error) => refused.push(`${id}: ${error}`),
    });
    onCleanup(() => app.close());
    await app.start();
    const account = await app.openAccount('carol', 1_000_000n);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const receipt = await app.requestWithdrawal(
        account,
        Wallet.createRandom().address,
        10n + BigInt(i),
      );
      ids.push(receipt.bridge_signature.message_id);
    }
    env.devnet.sequencer.flush();
    expect(refused).toEqual([]);
    await waitFor(
      async () => {
        for (const id of ids) {
          const j = (await (await fetch(`${relayer.url}/withdrawals/${id}`)).json()) as {
            state: string;
          };
          if (j.state !== 'confirmed') return false;
        }
        return true;
      },
      { what: "the sample app's withdrawals confirmed", timeoutMs: 30_000, intervalMs: 100 },
    );
    const counts = await handledCounts(env);
    for (const id of ids) expect(counts.get(id)).toBe(1);
  });
});
