/**
 * pnpm bench (apps/relayer): withdrawals per second end to end, and the time from the
 * threshold-th valid signature to the confirmation, on anvil with 1 s blocks, the test Bridge
 * (threshold 2 of 3), the devnet sequencer and sample app, and three built synddb-validator
 * processes in bridge signer mode; the relayer runs in this process.
 *
 * Baseline, measured in the same run on the same chain: the raw cost of landing the same number
 * of `initializeAndHandleMessage` calls directly with ethers (signatures computed here, fees from
 * the node, all sent at once from another initializer account, no relayer). The relayer's
 * numbers are printed with their ratio to it.
 *
 * Prints the phases of the threshold-to-confirmation time (p50). Env: BENCH_WITHDRAWALS (24),
 * BENCH_BLOCK_TIME (1 s). Needs the built validator (apps/validator/dist): turbo builds it first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@synddb/app-kit';
import { encodeInitializeAndHandle } from '@synddb/bridge-client';
import { startDevnetWithApp, TEST_SEQUENCER_KEY } from '@synddb/devnet';
import { ANVIL_KEYS, bridgeSignerValidatorArgs, startTestChain } from '@synddb/test-contracts';
import {
  computeAddress,
  getBytes,
  hexlify,
  keccak256,
  NonceManager,
  randomBytes,
  solidityPacked,
  Wallet,
} from 'ethers';
import { startRelayer } from '../src/start-relayer';

const N = Number(process.env.BENCH_WITHDRAWALS ?? 24);
const BLOCK_TIME = Number(process.env.BENCH_BLOCK_TIME ?? 1);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const VALIDATOR_BIN = join(ROOT, 'apps/validator/dist/cli.js');

const cleanups: (() => unknown)[] = [];
const directory = mkdtempSync(join(tmpdir(), 'relayer-bench-'));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const fmt = (n: number, digits = 2) => n.toFixed(digits);

function startValidatorProcess(
  i: number,
  key: string,
  sequencerUrl: string,
  pubkey: string,
  bridge: string,
) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      VALIDATOR_BIN,
      ...bridgeSignerValidatorArgs({
        sequencerUrl,
        sequencerPubkey: pubkey,
        databasePath: join(directory, `validator-${i}`, 'validator.db'),
        bridgeAddress: bridge,
        key,
      }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => child.kill('SIGKILL'));
  return new Promise<string>((resolve, reject) => {
    const lines: string[] = [];
    const timer = setTimeout(
      () => reject(new Error(`validator ${i}:\n${lines.join('\n')}`)),
      60_000,
    );
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        const m = /bridge signer started .*\bsignatureApi=(http:\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    }
    child.once('exit', (code) =>
      reject(new Error(`validator ${i} exited ${code}:\n${lines.join('\n')}`)),
    );
  });
}

async function main() {
  const validatorKeys = [0, 1, 2].map(() => Wallet.createRandom());
  const relayerKey = ANVIL_KEYS[1];
  const baselineKey = ANVIL_KEYS[2];
  const benchSequencer = Wallet.createRandom(); // signs the baseline's messages
  const { anvil, chain } = await startTestChain({
    threshold: 2,
    sequencers: [computeAddress(`0x${TEST_SEQUENCER_KEY}`), benchSequencer.address],
    validators: validatorKeys.map((k) => k.address),
    initializers: [computeAddress(relayerKey), computeAddress(baselineKey)],
    fund: '1000',
    blockTime: BLOCK_TIME,
    onCleanup: (fn) => cleanups.push(fn),
  });
  const devnet = await startDevnetWithApp({
    directory,
    onCleanup: (fn) => cleanups.push(fn),
    sequencer: { batchMaxMessages: 20, flushIntervalMs: 50 },
  });
  const validatorUrls = await Promise.all(
    validatorKeys.map((k, i) =>
      startValidatorProcess(
        i,
        k.privateKey,
        devnet.url,
        devnet.sequencer.pubkeyHex,
        chain.addresses.bridge,
      ),
    ),
  );

  // ---- baseline: the same calls sent directly with ethers, no relayer ----------------------
  const baselineSigner = new NonceManager(new Wallet(baselineKey, chain.provider));
  const calls = Array.from({ length: N }, () => {
    const messageId = hexlify(randomBytes(32));
    const target = Wallet.createRandom().address;
    const payload = '0x1234';
    const amount = 1000n;
    const hash = keccak256(
      solidityPacked(
        ['bytes32', 'address', 'bytes32', 'uint256'],
        [messageId, target, keccak256(payload), amount],
      ),
    );
    return encodeInitializeAndHandle(
      {
        messageId,
        targetAddress: target,
        payload,
        nativeTokenAmount: amount,
        sequencerSignature: benchSequencer.signMessageSync(getBytes(hash)),
        submittedAt: 1_700_000_000n,
      },
      validatorKeys.slice(0, 2).map((v) => v.signMessageSync(getBytes(messageId))),
    );
  });
  const baselineStart = performance.now();
  const sent = [];
  for (const data of calls) {
    const at = performance.now();
    sent.push({
      at,
      tx: await baselineSigner.sendTransaction({ to: chain.addresses.bridge, data }),
    });
  }
  const baselineLatencies = await Promise.all(
    sent.map(async ({ at, tx }) => {
      const receipt = await tx.wait();
      if (receipt?.status !== 1) throw new Error(`baseline transaction reverted: ${tx.hash}`);
      return (performance.now() - at) / 1000;
    }),
  );
  const baselineSeconds = (performance.now() - baselineStart) / 1000;

  // ---- the relayer: the devnet's withdrawals, signed by the validators, landed --------------
  const relayer = await startRelayer(
    {
      rpcUrl: [anvil.url],
      chainId: 31337n,
      bridgeAddress: chain.addresses.bridge,
      privateKey: relayerKey,
      validatorUrl: validatorUrls,
      listenAddr: '127.0.0.1:0',
      databasePath: join(directory, 'relayer.db'),
      pollInterval: '100ms',
      maxBackoff: '1s',
      validatorTimeout: '2s',
    },
    { logger: createLogger({ level: 'error' }) },
  );
  cleanups.unshift(() => relayer.stop());
  const account = await devnet.app.openAccount('bench', 1_000_000_000n);
  const bodies: { message_id: string; [field: string]: string | number }[] = [];
  for (let i = 0; i < N; i++) {
    const recipient = Wallet.createRandom().address.toLowerCase();
    const receipt = await devnet.app.requestWithdrawal(account, recipient, 1000n + BigInt(i));
    bodies.push({
      message_id: receipt.bridge_signature.message_id,
      target_address: recipient,
      payload: `0x${Buffer.from(`withdraw:${account}`).toString('hex')}`,
      native_token_amount: (1000n + BigInt(i)).toString(),
      sequencer_signature: receipt.bridge_signature.signature,
      sequence: receipt.bridge_signature.sequence,
      timestamp: receipt.bridge_signature.timestamp,
    });
  }
  devnet.sequencer.flush();
  const relayerStart = performance.now();
  for (const body of bodies) {
    const r = await fetch(`${relayer.url}/submit-withdrawal?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (r.status !== 202) throw new Error(`submit: ${r.status} ${await r.text()}`);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('withdrawals not confirmed in 120 s')),
      120_000,
    );
    const check = () => {
      const counts = relayer.store.countsByState();
      if (counts.failed > 0) reject(new Error('a withdrawal failed'));
      if (counts.confirmed === N) {
        clearTimeout(timer);
        relayer.store.events.off('transition', check);
        resolve();
      }
    };
    relayer.store.events.on('transition', check);
    check();
  });
  const relayerSeconds = (performance.now() - relayerStart) / 1000;
  const thresholdToConfirmation = bodies.map((b) => {
    const job = relayer.store.get(b.message_id)!;
    const confirmedAt = relayer.store
      .history(b.message_id)
      .find((h) => h.state === 'confirmed')!.at;
    return (confirmedAt - job.thresholdMetAt!) / 1000;
  });
  const submissions = bodies.map((b) => relayer.store.transactions(b.message_id).length);
  // where the time goes: threshold met -> signed -> broadcast -> confirmed
  const phase = (from: string | null, to: string) =>
    percentile(
      bodies.map((b) => {
        const h = relayer.store.history(b.message_id);
        const start =
          from === null
            ? relayer.store.get(b.message_id)!.thresholdMetAt!
            : h.find((e) => e.state === from)!.at;
        return (h.find((e) => e.state === to)!.at - start) / 1000;
      }),
      50,
    );
  const phases = `threshold->simulated ${fmt(phase(null, 'simulated'))} s, simulated->signed ${fmt(phase('simulated', 'signed'))} s, signed->broadcast ${fmt(phase('signed', 'broadcast'))} s, broadcast->confirmed ${fmt(phase('broadcast', 'confirmed'))} s (p50 each)`;

  const baselineRate = N / baselineSeconds;
  const relayerRate = N / relayerSeconds;
  const bp50 = percentile(baselineLatencies, 50);
  const t50 = percentile(thresholdToConfirmation, 50);
  const t95 = percentile(thresholdToConfirmation, 95);
  const tmax = Math.max(...thresholdToConfirmation);
  console.log(
    `relayer bench: ${N} withdrawals, anvil ${BLOCK_TIME} s blocks, 3 validators, threshold 2`,
  );
  console.log(
    `baseline (ethers, direct)   ${fmt(baselineSeconds)} s  ${fmt(baselineRate)} withdrawals/s  send->mined p50 ${fmt(bp50)} s`,
  );
  console.log(
    `relayer end to end          ${fmt(relayerSeconds)} s  ${fmt(relayerRate)} withdrawals/s  (${fmt(relayerRate / baselineRate)}x the baseline rate)`,
  );
  console.log(
    `threshold-th signature -> confirmed  p50 ${fmt(t50)} s (${fmt(t50 / BLOCK_TIME, 1)} blocks)  p95 ${fmt(t95)} s  max ${fmt(tmax)} s (${fmt(tmax / BLOCK_TIME, 1)} blocks; goal <= 2)  p50 ${fmt(t50 / bp50)}x the baseline send->mined`,
  );
  console.log(`  ${phases}`);
  console.log(
    `transactions per withdrawal: ${fmt(submissions.reduce((a, b) => a + b, 0) / N)} (1 = no replacement)`,
  );
}

main()
  .then(
    () => 0,
    (error: unknown) => {
      console.error(error);
      return 1;
    },
  )
  .then(async (code) => {
    for (const fn of cleanups) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
    rmSync(directory, { recursive: true, force: true });
    process.exit(code);
  });
