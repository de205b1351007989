import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type DevnetWithApp, startDevnetWithApp, TEST_SEQUENCER_KEY } from '@synddb/devnet';
import {
  ANVIL_KEYS,
  type Anvil,
  bridgeSignerValidatorArgs,
  startTestChain,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import { onCleanup, tempDir } from '@synddb/test-support';
import { computeAddress, Wallet } from 'ethers';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const VALIDATOR_BIN = join(ROOT, 'apps/validator/dist/cli.js');

export interface ValidatorProcess {
  /** Base URL of its signature API (the relayer's VALIDATOR_URL). */
  signatureUrl: string;
  address: string;
  child: ChildProcess;
  lines: string[];
  stop(): Promise<void>;
}

/** Starts the built `synddb-validator` in bridge signer mode with a known key. */
export async function startValidatorProcess(options: {
  sequencerUrl: string;
  sequencerPubkey: string;
  bridgeAddress: string;
  directory: string;
  key: string;
  name: string;
}): Promise<ValidatorProcess> {
  const child = spawn(
    process.execPath,
    [
      VALIDATOR_BIN,
      ...bridgeSignerValidatorArgs({
        sequencerUrl: options.sequencerUrl,
        sequencerPubkey: options.sequencerPubkey,
        databasePath: join(options.directory, 'validator.db'),
        bridgeAddress: options.bridgeAddress,
        key: options.key,
      }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signatureUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} did not start:\n${lines.join('\n')}`)),
      30_000,
    );
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        if (process.env.SYNDDB_TEST_ECHO === '1') console.log(`[${options.name}] ${line}`);
        const m = /bridge signer started .*\bsignatureApi=(http:\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    }
    void exited.then(() => reject(new Error(`${options.name} exited:\n${lines.join('\n')}`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  onCleanup(stop);
  return { signatureUrl, address: computeAddress(options.key), child, lines, stop };
}

export interface RelayerEnvironment {
  anvil: Anvil;
  chain: TestBridgeDeployment;
  devnet: DevnetWithApp;
  validators: ValidatorProcess[];
  /** The relayer account's key (an initializer on the Bridge, funded by anvil). */
  relayerKey: string;
  directory: string;
}

/**
 * A devnet sequencer + sample app, anvil with the test Bridge (threshold `threshold`, the
 * sequencer's key registered as a Sequencer key, the registered validators' keys as Validator
 * keys, the relayer account as an initializer) and `validators` built `synddb-validator`
 * processes in bridge signer mode. `unregistered` lists validators whose key is not registered.
 */
export async function startRelayerEnvironment(
  options: {
    validators?: number;
    threshold?: number;
    unregistered?: number[];
    relayerKey?: string;
    anvilArgs?: string[];
  } = {},
): Promise<RelayerEnvironment> {
  const directory = tempDir('relayer-e2e-');
  const keys = Array.from(
    { length: options.validators ?? 3 },
    () => Wallet.createRandom().privateKey,
  );
  const relayerKey = options.relayerKey ?? ANVIL_KEYS[1];
  const { anvil, chain } = await startTestChain({
    threshold: options.threshold ?? 2,
    sequencers: [computeAddress(`0x${TEST_SEQUENCER_KEY}`)],
    validators: keys
      .filter((_, i) => !(options.unregistered ?? []).includes(i))
      .map((k) => computeAddress(k)),
    initializers: [computeAddress(relayerKey)],
    anvilArgs: options.anvilArgs ?? [],
    onCleanup,
  });
  const devnet = await startDevnetWithApp({
    directory,
    onCleanup,
    sequencer: { batchMaxMessages: 5, flushIntervalMs: 50 },
  });
  const validators = await Promise.all(
    keys.map((key, i) =>
      startValidatorProcess({
        sequencerUrl: devnet.url,
        sequencerPubkey: devnet.sequencer.pubkeyHex,
        bridgeAddress: chain.addresses.bridge,
        directory: join(directory, `validator-${i}`),
        key,
        name: `validator-${i}`,
      }),
    ),
  );
  return { anvil, chain, devnet, validators, relayerKey, directory };
}

/** The `/submit-withdrawal` body for a sequencer withdrawal receipt (as the price-oracle app sends). */
export function submitBody(
  receipt: {
    bridge_signature: {
      message_id: string;
      signature: string;
      sequence: number;
      timestamp: number;
    };
  },
  recipient: string,
  amount: bigint,
  data: Uint8Array,
) {
  return {
    message_id: receipt.bridge_signature.message_id,
    target_address: recipient,
    payload: `0x${Buffer.from(data).toString('hex')}`,
    native_token_amount: amount.toString(),
    sequencer_signature: receipt.bridge_signature.signature,
    sequence: receipt.bridge_signature.sequence,
    timestamp: receipt.bridge_signature.timestamp,
  };
}
