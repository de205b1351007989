/**
 * The built `synddb-relayer` binary (apps/relayer/dist/cli.js) as its own process, with three
 * built `synddb-validator` processes in bridge signer mode, the devnet sequencer and sample app,
 * and anvil with the test Bridge (threshold 2; automine while it is deployed, then 1 s blocks):
 * `--help`, `--version`, exit 2 for a bad flag. Every withdrawal of a devnet run lands exactly
 * once (one MessageHandled each, no reverted transaction from the relayer account) and the jobs
 * API shows each history, through each fault of the relayer's issue:
 * - the relayer SIGKILLed again and again while transactions are broadcast and not yet
 *   confirmed; a fee spike gets a transaction replaced (same nonce, fees +12.5% or more);
 *   SIGTERM exits 0;
 * - with its RPC behind a JSON-RPC proxy dropping or delaying 10% of requests (seeded), a fresh
 *   unfunded key (/ready 503 on the balance, jobs wait without signing, then land once funded),
 *   one validator SIGKILLed part-way (later withdrawals land with the other two's signatures), a
 *   fourth validator URL serving signatures from an unregistered key (rejected, never sent), and
 *   a SIGKILL between broadcast and confirmation.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { onCleanup, testRandom, waitFor } from '@synddb/test-support';
import { startJsonRpcFaultProxy } from '@synddb/test-support/chain';
import { computeAddress, JsonRpcProvider, parseEther, toQuantity, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { tail } from '../support/processes';
import { ANVIL_KEYS, RELAYER_BIN } from '../support/relayer-chain';
import {
  countInState,
  getJson,
  handledCounts,
  type JobJson,
  makeWithdrawals,
  minedTransactionsFrom,
  type RelayerProcess,
  startImpostorValidator,
  startRelayerProcess,
  startRelayerTestbed,
  submitAll,
  type WithdrawalBody,
} from '../support/relayer-testbed';

interface ReadyJson {
  ready: boolean;
  checks: Record<'rpc' | 'database' | 'balance', { ok: boolean; detail?: string }>;
}

/** The signers a job's `ready` history entries name (`initialize-and-handle with a,b`). */
function signersNamed(job: JobJson): string[][] {
  return job.history
    .filter((h) => h.state === 'ready' && h.detail?.startsWith('initialize-and-handle with '))
    .map((h) =>
      h
        .detail!.slice('initialize-and-handle with '.length)
        .split(' ')[0]!
        .split(',')
        .map((s) => s.toLowerCase()),
    );
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
    const random = testRandom('relayer-kills');
    const relayerKey = ANVIL_KEYS[2];
    const bed = await startRelayerTestbed({ prefix: 'release-relayer-', relayerKey });
    const { chain, devnet } = bed;
    const env = {
      RPC_URL: bed.anvil.url,
      CHAIN_ID: '31337',
      BRIDGE_CONTRACT_ADDRESS: chain.addresses.bridge,
      RELAYER_PRIVATE_KEY: relayerKey,
      VALIDATOR_URL: bed.validators.map((v) => v.signatureUrl!).join(','),
      RELAYER_LISTEN_ADDR: '127.0.0.1:0',
      RELAYER_DATABASE_PATH: join(bed.directory, 'relayer.db'),
      RELAYER_POLL_INTERVAL: '200ms',
      RELAYER_MAX_BACKOFF: '1s',
      TX_REPLACE_AFTER: '1500ms',
    };

    // a devnet run's withdrawals
    const bodies = await makeWithdrawals(devnet, 'alice', 12, 500);
    let relayer = await startRelayerProcess(env);
    await submitAll(relayer.url, bodies);
    // SIGKILL while transactions are broadcast and unconfirmed (1 s blocks), three times
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const inFlight = await waitFor(
        async () => {
          const broadcast = await countInState(relayer.url, 'broadcast');
          if (broadcast > 0) return broadcast;
          return (await countInState(relayer.url, 'confirmed')) === bodies.length ? 0 : null;
        },
        { what: 'a broadcast, unconfirmed transaction', timeoutMs: 30_000, intervalMs: 20 },
      );
      if (inFlight === 0) break;
      await new Promise((r) => setTimeout(r, random.int(400)));
      relayer.p.kill('SIGKILL');
      await relayer.p.exited;
      kills++;
      relayer = await startRelayerProcess(env);
    }
    expect(kills).toBeGreaterThan(0);

    // a fee spike: the next blocks' base fee far above what pending transactions pay
    const rpc = new JsonRpcProvider(bed.anvil.url, undefined, { staticNetwork: true });
    onCleanup(() => rpc.destroy());
    const [spiked] = await makeWithdrawals(devnet, 'bob', 1, 77);
    // wait until the earlier jobs are done, so the spike hits only this one
    await waitFor(async () => (await countInState(relayer.url, 'confirmed')) === bodies.length, {
      what: 'every withdrawal confirmed after the kills',
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    // No block is mined while the transaction is sent (else it could land in the block being
    // mined before the spike, and nothing would need replacing: seen on a loaded machine).
    await rpc.send('evm_setIntervalMining', [0]);
    await submitAll(relayer.url, [spiked!]);
    await waitFor(
      async () =>
        (await getJson<JobJson>(`${relayer.url}/withdrawals/${spiked!.message_id}`)).transactions
          .length > 0,
      { what: 'the spiked withdrawal signed', timeoutMs: 30_000, intervalMs: 10 },
    );
    const spikeAfter = await rpc.getBlockNumber();
    await rpc.send('anvil_setNextBlockBaseFeePerGas', ['0x174876e800']); // 100 gwei
    await rpc.send('evm_setIntervalMining', [1]);
    const spikedJob = await waitFor(
      async () => {
        const j = await getJson<JobJson>(`${relayer.url}/withdrawals/${spiked!.message_id}`);
        return j.state === 'confirmed' ? j : null;
      },
      { what: 'the spiked withdrawal confirmed', timeoutMs: 60_000, intervalMs: 100 },
    );
    const replaced = spikedJob.transactions.filter((t) => t.status === 'replaced');
    const mined = spikedJob.transactions.filter((t) => t.status === 'mined');
    // What the spike met (a CI run once saw the first transaction mined without a replacement).
    const seen = `job transactions: ${JSON.stringify(spikedJob.transactions)}; mined in block ${
      (await rpc.getTransactionReceipt(mined[0]?.hash ?? '').catch(() => null))?.blockNumber ??
      'unknown'
    }, the spike's block ${spikeAfter + 1}`;
    expect(replaced.length, seen).toBeGreaterThan(0);
    expect(mined, seen).toHaveLength(1);
    expect(new Set(spikedJob.transactions.map((t) => t.nonce)).size).toBe(1);
    expect(BigInt(mined[0]!.max_fee_per_gas) * 1000n).toBeGreaterThanOrEqual(
      BigInt(replaced[0]!.max_fee_per_gas) * 1125n,
    );
    const metrics = await (await fetch(`${relayer.url}/metrics`)).text();
    expect(metrics).toMatch(/synddb_relayer_replacements_total [1-9]/);

    // exactly once: one MessageHandled per withdrawal, no reverted relayer transaction
    const all = [...bodies, spiked!];
    const counts = await handledCounts(rpc, chain.addresses.bridge);
    for (const body of all) expect(counts.get(body.message_id), body.message_id).toBe(1);
    const sent = await minedTransactionsFrom(rpc, computeAddress(relayerKey));
    expect(sent.length).toBeGreaterThanOrEqual(all.length);
    for (const tx of sent) expect(tx.status, tx.hash).toBe(1);
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

  it('lands every withdrawal exactly once from an unfunded key, through a lossy RPC path, a validator killed, an impostor validator and a SIGKILL', async () => {
    const key = Wallet.createRandom();
    const address = key.address.toLowerCase();
    const bed = await startRelayerTestbed({
      prefix: 'release-relayer-faults-',
      relayerKey: key.privateKey,
    });
    const { chain, devnet, validators, validatorAddresses } = bed;
    expect(await chain.provider.getBalance(address)).toBe(0n);
    // the relayer's only RPC path drops or delays 10% of requests (seeded, the seed printed)
    const proxy = await startJsonRpcFaultProxy({
      upstream: bed.anvil.url,
      dropRate: 0.1,
      delayRate: 0.1,
      maxDelayMs: 300,
      seedLabel: 'relayer dist rpc faults',
    });
    onCleanup(() => proxy.close());
    // a fourth validator URL: signatures for the ids validator 2 signed, from an unregistered key
    const impostor = await startImpostorValidator(validators[2]!.signatureUrl!);
    const env = {
      RPC_URL: proxy.url,
      RPC_TIMEOUT: '1s',
      CHAIN_ID: '31337',
      BRIDGE_CONTRACT_ADDRESS: chain.addresses.bridge,
      RELAYER_PRIVATE_KEY: key.privateKey,
      VALIDATOR_URL: [...validators.map((v) => v.signatureUrl!), impostor.url].join(','),
      VALIDATOR_TIMEOUT: '1s',
      RELAYER_LISTEN_ADDR: '127.0.0.1:0',
      RELAYER_DATABASE_PATH: join(bed.directory, 'relayer.db'),
      RELAYER_POLL_INTERVAL: '200ms',
      RELAYER_MAX_BACKOFF: '1s',
      TX_REPLACE_AFTER: '3s',
    };
    let relayer: RelayerProcess = await startRelayerProcess(env);
    const jobOf = (body: WithdrawalBody) =>
      getJson<JobJson>(`${relayer.url}/withdrawals/${body.message_id}`);

    // unfunded: /ready answers 503 on the balance check
    const notReady = await waitFor(
      async () => {
        const r = await fetch(`${relayer.url}/ready`);
        const body = (await r.json()) as ReadyJson;
        return r.status === 503 &&
          /^0 wei is below the floor/.test(body.checks.balance.detail ?? '')
          ? body
          : null;
      },
      { what: '/ready 503 for the unfunded account', timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(notReady).toMatchObject({ ready: false, checks: { balance: { ok: false } } });

    /** Waits until each job has been seen waiting for funds, never signed or broadcast. */
    const waitForFunds = async (bodies: readonly WithdrawalBody[], what: string) => {
      const seen = new Map<string, JobJson>();
      await waitFor(
        async () => {
          for (const body of bodies) {
            if (seen.has(body.message_id)) continue;
            const job = await jobOf(body);
            if (job.reason?.includes('insufficient funds')) seen.set(body.message_id, job);
          }
          return seen.size === bodies.length;
        },
        { what: () => `${what}: ${seen.size} of ${bodies.length}`, timeoutMs: 30_000 },
      );
      return [...seen.values()];
    };

    // withdrawals while all three validators are up: they wait for funds, never signed
    const early = await makeWithdrawals(devnet, 'carol', 6, 300);
    await submitAll(relayer.url, early);
    for (const job of await waitForFunds(early, 'the early jobs waiting for funds')) {
      expect(job.state).not.toBe('failed');
      expect(job.threshold_met_at).not.toBeNull();
      expect(job.transactions).toEqual([]);
    }
    // validator 0 SIGKILLed part-way: withdrawals made after it can only get 1 and 2's signatures
    validators[0]!.kill('SIGKILL');
    expect((await validators[0]!.exited).signal).toBe('SIGKILL');
    const late = await makeWithdrawals(devnet, 'dave', 6, 700);
    await submitAll(relayer.url, late);
    for (const job of await waitForFunds(late, 'the late jobs waiting for funds')) {
      expect(job.threshold_met_at).not.toBeNull();
      expect(job.transactions).toEqual([]);
      expect(signersNamed(job).at(-1)).toEqual([validatorAddresses[1], validatorAddresses[2]]);
    }
    // before the funding nothing was signed: no signed/broadcast state in any history
    for (const body of [...early, ...late]) {
      const job = await jobOf(body);
      expect(job.transactions, body.message_id).toEqual([]);
      const states = new Set(job.history.map((h) => h.state));
      for (const s of ['signed', 'broadcast', 'confirmed', 'failed'])
        expect(states.has(s), `${body.message_id} ${s}`).toBe(false);
    }
    expect(await chain.provider.getTransactionCount(address)).toBe(0);
    // the impostor's signatures were fetched and rejected; the dead validator counted as errors
    const before = await (await fetch(`${relayer.url}/metrics`)).text();
    expect(impostor.served.size).toBeGreaterThan(0);
    expect(before).toMatch(
      new RegExp(
        `synddb_relayer_signatures_rejected_total\\{validator="${impostor.url}",reason="unregistered_signer"\\} [1-9]`,
      ),
    );
    expect(before).not.toContain(
      `synddb_relayer_signatures_fetched_total{validator="${impostor.url}"}`,
    );
    expect(before).toMatch(
      new RegExp(
        `synddb_relayer_validator_errors_total\\{validator="${validators[0]!.signatureUrl}"\\} [1-9]`,
      ),
    );

    // funded: /ready turns 200, and the waiting jobs are signed and broadcast
    const fundedAt = Date.now();
    await chain.provider.send('anvil_setBalance', [address, toQuantity(parseEther('10'))]);
    await waitFor(async () => (await fetch(`${relayer.url}/ready`)).status === 200, {
      what: '/ready 200 once funded',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // SIGKILL while a transaction is broadcast and not yet confirmed, then a new process
    await waitFor(async () => (await countInState(relayer.url, 'broadcast')) > 0, {
      what: 'a broadcast, unconfirmed transaction after the funding',
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    relayer.p.kill('SIGKILL');
    expect((await relayer.p.exited).signal).toBe('SIGKILL');
    relayer = await startRelayerProcess(env);
    const all = [...early, ...late];
    await waitFor(async () => (await countInState(relayer.url, 'confirmed')) === all.length, {
      what: () => `every withdrawal confirmed (${JSON.stringify(proxy.stats())})`,
      timeoutMs: 90_000,
      intervalMs: 200,
    });

    // exactly once on the chain: one MessageHandled each, the amount paid once, nothing reverted
    const counts = await handledCounts(chain.provider, chain.addresses.bridge);
    for (const body of all) {
      expect(counts.get(body.message_id), body.message_id).toBe(1);
      expect(await chain.provider.getBalance(body.target_address)).toBe(
        BigInt(body.native_token_amount),
      );
    }
    const sent = await minedTransactionsFrom(chain.provider, address);
    expect(sent.length).toBeGreaterThanOrEqual(all.length);
    for (const tx of sent) expect(tx.status, tx.hash).toBe(1);
    const sentHashes = new Set(sent.map((t) => t.hash));
    // each history: received ... confirmed, signed only after the funding, with registered signers
    for (const body of all) {
      const job = await jobOf(body);
      const states = job.history.map((h) => h.state);
      expect(states[0], body.message_id).toBe('received');
      expect(states.at(-1), body.message_id).toBe('confirmed');
      expect(states).toContain('signed');
      for (const h of job.history.filter((e) => e.state === 'signed' || e.state === 'broadcast'))
        expect(Date.parse(h.at)).toBeGreaterThanOrEqual(fundedAt);
      const mined = job.transactions.filter((t) => t.status === 'mined');
      expect(mined, body.message_id).toHaveLength(1);
      expect(sentHashes.has(mined[0]!.hash)).toBe(true);
      // every valid signature collected goes in (2 or 3), the impostor's never
      for (const signers of signersNamed(job)) {
        expect(signers.length).toBeGreaterThanOrEqual(2);
        expect(signers).not.toContain(impostor.address);
        for (const s of signers) expect(validatorAddresses).toContain(s);
      }
    }
    for (const body of late) {
      for (const signers of signersNamed(await jobOf(body)))
        expect(signers).not.toContain(validatorAddresses[0]);
    }
    const stats = proxy.stats();
    console.error(`[relayer dist rpc faults] ${JSON.stringify(stats)}`);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.delayed).toBeGreaterThan(0);
    expect(stats.byMethod.eth_sendRawTransaction).toBeGreaterThan(0);

    relayer.p.kill('SIGTERM');
    const exit = await relayer.p.exited;
    expect(exit, tail(relayer.p.lines)).toEqual({ code: 0, signal: null });
  });
});
