// What the built relayer's release test runs against: anvil with this repo's test Bridge (threshold
// 2 of 3 Validator keys; automine while it is deployed, then 1 s blocks), the devnet sequencer and
// sample app in-process, three built `synddb-validator` processes in bridge signer mode; the
// built relayer started as its own process; a validator impostor serving signatures from an
// unregistered key; and the chain-side checks (MessageHandled per message id, the relayer
// account's transactions and their receipts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type DevnetWithApp, startDevnetWithApp, TEST_SEQUENCER_KEY } from '@synddb/devnet';
import { onCleanup, tempDir } from '@synddb/test-support';
import { computeAddress, getBytes, type JsonRpcProvider, id as topicOf, Wallet } from 'ethers';
import { expect } from 'vitest';
import { type RunningProcess, startProcess, startValidator, type Validator } from './processes';
import {
  type Anvil,
  bridgeSignerValidatorArgs,
  RELAYER_BIN,
  startTestChain,
  type TestBridgeDeployment,
} from './relayer-chain';

export const MESSAGE_HANDLED = topicOf('MessageHandled(bytes32,bool)');

/** `GET /withdrawals/{id}`. */
export interface JobJson {
  message_id: string;
  state: string;
  reason: string | null;
  threshold_met_at: string | null;
  history: { state: string; at: string; detail: string | null }[];
  transactions: { hash: string; nonce: number; status: string; max_fee_per_gas: string }[];
}

/** A `/submit-withdrawal` body. */
export interface WithdrawalBody {
  message_id: string;
  target_address: string;
  payload: string;
  native_token_amount: string;
  sequencer_signature: string;
  sequence: number;
  timestamp: number;
}

export interface RelayerTestbed {
  directory: string;
  anvil: Anvil;
  chain: TestBridgeDeployment;
  devnet: DevnetWithApp;
  validators: Validator[];
  /** The validators' addresses (their registered Validator keys), lowercase, in order. */
  validatorAddresses: string[];
}

/** Anvil + test Bridge (`relayerKey`'s account an initializer), devnet, three built validators. */
export async function startRelayerTestbed(options: {
  prefix: string;
  relayerKey: string;
}): Promise<RelayerTestbed> {
  const directory = tempDir(options.prefix);
  const keys = [0, 1, 2].map(() => Wallet.createRandom().privateKey);
  const { anvil, chain } = await startTestChain({
    threshold: 2,
    sequencers: [computeAddress(`0x${TEST_SEQUENCER_KEY}`)],
    validators: keys.map((k) => computeAddress(k)),
    initializers: [computeAddress(options.relayerKey)],
    blockTime: 1,
    onCleanup,
  });
  expect(await chain.provider.send('anvil_getAutomine', [])).toBe(false);
  const devnet = await startDevnetWithApp({
    directory,
    onCleanup,
    sequencer: { batchMaxMessages: 5, flushIntervalMs: 50 },
  });
  const validators = await Promise.all(
    keys.map((key, i) =>
      startValidator(
        bridgeSignerValidatorArgs({
          sequencerUrl: devnet.url,
          sequencerPubkey: devnet.sequencer.pubkeyHex,
          databasePath: join(directory, `validator-${i}`, 'validator.db'),
          bridgeAddress: chain.addresses.bridge,
          key,
        }),
      ),
    ),
  );
  return {
    directory,
    anvil,
    chain,
    devnet,
    validators,
    validatorAddresses: keys.map((k) => computeAddress(k).toLowerCase()),
  };
}

/** `n` withdrawals by a new sample-app account (amounts `base`, `base + 1`, ...), flushed. */
export async function makeWithdrawals(
  devnet: DevnetWithApp,
  owner: string,
  n: number,
  base: number,
): Promise<WithdrawalBody[]> {
  const account = await devnet.app.openAccount(owner, 100_000_000n);
  const bodies: WithdrawalBody[] = [];
  for (let i = 0; i < n; i++) {
    const recipient = Wallet.createRandom().address.toLowerCase();
    const amount = BigInt(base + i);
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
  return bodies;
}

export interface RelayerProcess {
  p: RunningProcess;
  url: string;
}

/** Starts the built relayer with `env` (LOG_JSON) and waits for its URL. */
export async function startRelayerProcess(env: NodeJS.ProcessEnv): Promise<RelayerProcess> {
  const p = startProcess('relayer', [RELAYER_BIN], { env: { LOG_JSON: 'true', ...env } });
  const url = await p.waitForLine(/"msg":"synddb-relayer started".*"url":"(http:[^"]+)"/, 30_000);
  return { p, url };
}

export async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

/** POSTs each body with `?wait=false`; each must be accepted (202). */
export async function submitAll(relayerUrl: string, bodies: readonly WithdrawalBody[]) {
  for (const body of bodies) {
    const r = await fetch(`${relayerUrl}/submit-withdrawal?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(r.status, await r.text()).toBe(202);
  }
}

/** Number of relayer jobs in `state`. */
export async function countInState(relayerUrl: string, state: string): Promise<number> {
  return (await getJson<{ total: number }>(`${relayerUrl}/withdrawals?state=${state}`)).total;
}

/** MessageHandled events per message id (lowercase topic) on the Bridge. */
export async function handledCounts(
  provider: JsonRpcProvider,
  bridge: string,
): Promise<Map<string, number>> {
  const logs = await provider.getLogs({ address: bridge, topics: [MESSAGE_HANDLED], fromBlock: 0 });
  const counts = new Map<string, number>();
  for (const log of logs) counts.set(log.topics[1]!, (counts.get(log.topics[1]!) ?? 0) + 1);
  return counts;
}

/** Every mined transaction from `address`, with its receipt status (1 = success). */
export async function minedTransactionsFrom(
  provider: JsonRpcProvider,
  address: string,
): Promise<{ hash: string; nonce: number; status: number | null | undefined }[]> {
  const from = address.toLowerCase();
  const out: { hash: string; nonce: number; status: number | null | undefined }[] = [];
  const head = await provider.getBlockNumber();
  for (let b = 0; b <= head; b++) {
    const block = await provider.getBlock(b, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== from) continue;
      const receipt = await provider.getTransactionReceipt(tx.hash);
      out.push({ hash: tx.hash, nonce: tx.nonce, status: receipt?.status });
    }
  }
  return out;
}

export interface ImpostorValidator {
  url: string;
  /** The unregistered key's address, lowercase. */
  address: string;
  /** Message ids it answered with a signature. */
  served: Set<string>;
  close(): Promise<void>;
}

/**
 * A validator signature API (`GET /signature/{id}`, the reference's shape) that answers every
 * message id a real validator has a signature for with a well-formed signature (65 bytes, EIP-191
 * of the id, low S) by a key the Bridge does not know; 404 `null` for the others, as a validator.
 */
export async function startImpostorValidator(realValidator: string): Promise<ImpostorValidator> {
  const wallet = Wallet.createRandom();
  const address = wallet.address.toLowerCase();
  const served = new Set<string>();
  const server = createServer(async (req, res) => {
    const m = /^\/signature\/(0x[0-9a-fA-F]{64})$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const id = m[1]!.toLowerCase();
    try {
      const real = await fetch(`${realValidator}/signature/${id}`);
      if (real.status !== 200) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('null');
        return;
      }
      served.add(id);
      const body = {
        message_id: id,
        signature: wallet.signMessageSync(getBytes(id)),
        signer: address,
        signed_at: Math.floor(Date.now() / 1000),
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup(close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    address,
    served,
    close,
  };
}
