/**
 * The built `synddb-relayer` binary (apps/relayer/dist/cli.js) as its own process, with three
 * built `synddb-validator` processes in bridge signer mode, the devnet sequencer and sample app,
 * and anvil with the test Bridge (threshold 2; automine while it is deployed, then 1 s blocks):
 * `--help`, `--version`, exit 2 for a bad flag; every withdrawal of a devnet run lands exactly
 * once (one MessageHandled each, no reverted transaction) although the relayer is SIGKILLed again
 * and again while transactions are broadcast and not yet confirmed; a fee spike gets a
 * transaction replaced (same nonce, fees +12.5% or more); the jobs API shows each history;
 * SIGTERM exits 0.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDevnetWithApp, TEST_SEQUENCER_KEY } from '@synddb/devnet';
import { onCleanup, tempDir, testRandom, waitFor } from '@synddb/test-support';
import { computeAddress, JsonRpcProvider, id as topicOf, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { type RunningProcess, startProcess, startValidator, tail } from '../support/processes';
import { ANVIL_KEYS, deployTestBridge, RELAYER_BIN, startAnvil } from '../support/relayer-chain';

const MESSAGE_HANDLED = topicOf('MessageHandled(bytes32,bool)');

interface JobJson {
  message_id: string;
  state: string;
  reason: string | null;
  history: { state: string; at: string }[];
  transactions: { hash: string; nonce: number; status: string; max_fee_per_gas: string }[];
}

describe('the built synddb-relayer binary', () => {
  it('prints --help and --version and exits 0; a bad flag exits 2', () => {
    const help = spawnSync(process.execPath, [RELAYER_BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: synddb-relayer [options]');
    for (const env of [
      'RPC_URL',
      'VALIDATOR_URL',
      'RELAYER_LISTEN_ADDR',
      'TX_CONFIRMATION_TIMEOUT',
    ]) {
      expect(help.stdout).toContain(env);
    }
    const version = spawnSync(process.execPath, [RELAYER_BIN, '--version'], { encoding: 'utf8' });
    expect(version.stdout).toMatch(/^synddb-relayer \d+\.\d+\.\d+\n$/);
    const bad = spawnSync(process.execPath, [RELAYER_BIN, '--no-such-flag'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--no-such-flag');
  });

  it('lands every withdrawal exactly once through repeated SIGKILLs and a fee spike, and exits 0 on SIGTERM', async () => {
    const dir = tempDir('release-relayer-');
    const random = testRandom('relayer-kills');
    // automine while the test Bridge is deployed, then a block a second
    const anvil = await startAnvil();
    onCleanup(() => anvil.stop());
    const keys = [0, 1, 2].map(() => Wallet.createRandom().privateKey);
    const relayerKey = ANVIL_KEYS[2];
    const chain = await deployTestBridge({
      rpcUrl: anvil.url,
      threshold: 2,
      sequencers: [computeAddress(`0x${TEST_SEQUENCER_KEY}`)],
      validators: keys.map((k) => computeAddress(k)),
      initializers: [computeAddress(relayerKey)],
    });
    onCleanup(() => chain.provider.destroy());
    await chain.provider.send('evm_setIntervalMining', [1]);
    expect(await chain.provider.send('anvil_getAutomine', [])).toBe(false);
    const devnet = await startDevnetWithApp({
      directory: dir,
      onCleanup,
      sequencer: { batchMaxMessages: 5, flushIntervalMs: 50 },
    });
    const validators = await Promise.all(
      keys.map((key, i) =>
        startValidator([
          '--sequencer-url',
          devnet.url,
          '--sequencer-pubkey',
          devnet.sequencer.pubkeyHex,
          '--database-path',
          join(dir, `validator-${i}`, 'validator.db'),
          '--bind-address',
          '127.0.0.1:0',
          '--bridge-signer',
          '--bridge-chain-id',
          '31337',
          '--bridge-address',
          chain.addresses.bridge,
          '--bridge-signature-endpoint',
          '127.0.0.1:0',
          '--bridge-signer-key',
          key,
          '--sync-interval',
          '50ms',
          '--batch-index-refresh-interval',
          '100ms',
          '--query-workers',
          '0',
        ]),
      ),
    );
    const database = join(dir, 'relayer.db');
    const env = {
      RPC_URL: anvil.url,
      CHAIN_ID: '31337',
      BRIDGE_CONTRACT_ADDRESS: chain.addresses.bridge,
      RELAYER_PRIVATE_KEY: relayerKey,
      VALIDATOR_URL: validators.map((v) => v.signatureUrl!).join(','),
      RELAYER_LISTEN_ADDR: '127.0.0.1:0',
      RELAYER_DATABASE_PATH: database,
      RELAYER_POLL_INTERVAL: '200ms',
      RELAYER_MAX_BACKOFF: '1s',
      TX_REPLACE_AFTER: '1500ms',
      LOG_JSON: 'true',
    };
    const startRelayer = async (): Promise<{ p: RunningProcess; url: string }> => {
      const p = startProcess('relayer', [RELAYER_BIN], { env });
      const url = await p.waitForLine(
        /"msg":"synddb-relayer started".*"url":"(http:[^"]+)"/,
        30_000,
      );
      return { p, url };
    };
    const getJson = async <T>(url: string) => (await (await fetch(url)).json()) as T;

    // a devnet run's withdrawals
    const account = await devnet.app.openAccount('alice', 100_000_000n);
    const bodies: Record<string, unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const recipient = Wallet.createRandom().address.toLowerCase();
      const amount = BigInt(500 + i);
      const receipt = await devnet.app.requestWithdrawal(account, recipient, amount);
      bodies.push({
        message_id: receipt.bridge_signature.message_id,
        target_address: recipient,
        payload: `0x${Buffer.from(`withdraw:${account}`).toString('hex')}`,
        native_token_amount: amount.toString(),
        sequencer_signature: receipt.bridge_signature.signature,
        sequence: receipt.bridge_signature.sequence,
        timestamp: receipt.bridge_signature.timestamp,
      });
    }
    devnet.sequencer.flush();

    let relayer = await startRelayer();
    for (const body of bodies) {
      const r = await fetch(`${relayer.url}/submit-withdrawal?wait=false`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(202);
    }
    // SIGKILL while transactions are broadcast and unconfirmed (1 s blocks), three times
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const inFlight = await waitFor(
        async () => {
          const page = await getJson<{ total: number }>(
            `${relayer.url}/withdrawals?state=broadcast`,
          );
          if (page.total > 0) return page.total;
          const done = await getJson<{ total: number }>(
            `${relayer.url}/withdrawals?state=confirmed`,
          );
          return done.total === bodies.length ? 0 : null;
        },
        { what: 'a broadcast, unconfirmed transaction', timeoutMs: 30_000, intervalMs: 20 },
      );
      if (inFlight === 0) break;
      await new Promise((r) => setTimeout(r, random.int(400)));
      relayer.p.kill('SIGKILL');
      await relayer.p.exited;
      kills++;
      relayer = await startRelayer();
    }
    expect(kills).toBeGreaterThan(0);

    // a fee spike: the next blocks' base fee far above what pending transactions pay
    const rpc = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
    onCleanup(() => rpc.destroy());
    const spikeAccount = await devnet.app.openAccount('bob', 1_000_000n);
    const recipient = Wallet.createRandom().address.toLowerCase();
    const receipt = await devnet.app.requestWithdrawal(spikeAccount, recipient, 77n);
    devnet.sequencer.flush();
    const spiked = {
      message_id: receipt.bridge_signature.message_id,
      target_address: recipient,
      payload: `0x${Buffer.from(`withdraw:${spikeAccount}`).toString('hex')}`,
      native_token_amount: '77',
      sequencer_signature: receipt.bridge_signature.signature,
      sequence: receipt.bridge_signature.sequence,
      timestamp: receipt.bridge_signature.timestamp,
    };
    // wait until the earlier jobs are done, so the spike hits only this one
    await waitFor(
      async () =>
        (await getJson<{ total: number }>(`${relayer.url}/withdrawals?state=confirmed`)).total ===
        bodies.length,
      { what: 'every withdrawal confirmed after the kills', timeoutMs: 90_000, intervalMs: 200 },
    );
    await fetch(`${relayer.url}/submit-withdrawal?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(spiked),
    });
    await waitFor(
      async () =>
        (await getJson<JobJson>(`${relayer.url}/withdrawals/${spiked.message_id}`)).transactions
          .length > 0,
      { what: 'the spiked withdrawal signed', timeoutMs: 30_000, intervalMs: 10 },
    );
    await rpc.send('anvil_setNextBlockBaseFeePerGas', ['0x174876e800']); // 100 gwei
    const spikedJob = await waitFor(
      async () => {
        const j = await getJson<JobJson>(`${relayer.url}/withdrawals/${spiked.message_id}`);
        return j.state === 'confirmed' ? j : null;
      },
      { what: 'the spiked withdrawal confirmed', timeoutMs: 60_000, intervalMs: 100 },
    );
    const replaced = spikedJob.transactions.filter((t) => t.status === 'replaced');
    const mined = spikedJob.transactions.filter((t) => t.status === 'mined');
    expect(replaced.length).toBeGreaterThan(0);
    expect(mined).toHaveLength(1);
    expect(new Set(spikedJob.transactions.map((t) => t.nonce)).size).toBe(1);
    expect(BigInt(mined[0]!.max_fee_per_gas) * 1000n).toBeGreaterThanOrEqual(
      BigInt(replaced[0]!.max_fee_per_gas) * 1125n,
    );
    const metrics = await (await fetch(`${relayer.url}/metrics`)).text();
    expect(metrics).toMatch(/synddb_relayer_replacements_total [1-9]/);

    // exactly once: one MessageHandled per withdrawal, no reverted relayer transaction
    const all = [...bodies, spiked];
    const logs = await rpc.getLogs({
      address: chain.addresses.bridge,
      topics: [MESSAGE_HANDLED],
      fromBlock: 0,
    });
    const counts = new Map<string, number>();
    for (const log of logs) counts.set(log.topics[1]!, (counts.get(log.topics[1]!) ?? 0) + 1);
    for (const body of all)
      expect(counts.get(body.message_id as string), String(body.message_id)).toBe(1);
    const relayerAddress = computeAddress(relayerKey).toLowerCase();
    const head = await rpc.getBlockNumber();
    for (let b = 0; b <= head; b++) {
      const block = await rpc.getBlock(b, true);
      for (const tx of block?.prefetchedTransactions ?? []) {
        if (tx.from.toLowerCase() !== relayerAddress) continue;
        expect((await rpc.getTransactionReceipt(tx.hash))?.status, tx.hash).toBe(1);
      }
    }
    // each job's history is there
    const job = await getJson<JobJson>(`${relayer.url}/withdrawals/${bodies[0]!.message_id}`);
    expect(job.state).toBe('confirmed');
    const states = job.history.map((h) => h.state);
    expect(states[0]).toBe('received');
    expect(states).toContain('signed'); // journaled before any broadcast, killed or not
    expect(spikedJob.history.map((h) => h.state)).toContain('broadcast');

    relayer.p.kill('SIGTERM');
    const exit = await relayer.p.exited;
    expect(exit, tail(relayer.p.lines)).toEqual({ code: 0, signal: null });
  });
});
