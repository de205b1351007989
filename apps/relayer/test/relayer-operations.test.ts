/**
 * The relayer in-process against anvil and the test Bridge (threshold 2 of 3 Validator keys),
 * with stub validators (plain HTTP servers serving signatures of registered keys; the real
 * validator processes are in relayer-e2e.test.ts), for what an operator configures:
 * - `/register-key` end to end: the reference's fixed 32-byte slots of publicValues, the
 *   audience and image-digest allowlist, the deadline window, the `isKeyValid` pre-check and
 *   `registerKeyWithSignature` through the job machinery (registered; refused for a wrong
 *   audience, an image digest not allowed, a deadline out of the window, a bad signature decoded
 *   from the simulation; an already-valid key answers without a transaction);
 * - an encrypted JSON keystore + password file (the right password starts the relayer as that
 *   account; a wrong one exits 2 with a clear error; neither the key nor the password is logged);
 * - the fee cap: a job is paused (reason in `/withdrawals/{id}`, `synddb_relayer_fee_cap_paused`
 *   1, nothing signed) and lands once the network's fees drop under the cap;
 * - RPC failover: a dead first RPC URL, jobs still complete, its errors counted per endpoint;
 * - a mined revert (another initializer's call lands first in the block) is decoded into the
 *   job's reason and metrics, and the job then completes from the chain;
 * - a restart whose journaled transaction the pools lost and that would now revert: it is never
 *   sent, its nonce is filled with a no-op self-transfer (no gap), the job completes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { encodeInitializeAndHandle } from '@synddb/bridge-client';
import {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  mockPublicValues,
  startAnvil,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { startTestHttpServer } from '@synddb/test-support/storage';
import {
  type BaseWallet,
  concat,
  encryptKeystoreJson,
  getBytes,
  hexlify,
  keccak256,
  randomBytes,
  solidityPacked,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withdrawalMessage } from '../src/jobs/withdrawal-job';
import { runCli } from '../src/run-cli';
import { type RelayerHandle, startRelayer } from '../src/start-relayer';

const AUDIENCE = 'https://synddb.io/validator';
const ALLOWED_IMAGE = keccak256(toUtf8Bytes('sha256:allowed-image'));

let anvil: Anvil;
let chain: TestBridgeDeployment;
const sequencer = Wallet.createRandom();
const validators = [0, 1, 2].map(() => Wallet.createRandom());
/** One relayer account per test: nonces never interleave between tests. */
const accounts = [
  ANVIL_KEYS[1],
  ANVIL_KEYS[2],
  ANVIL_KEYS[3],
  ANVIL_KEYS[4],
  ANVIL_KEYS[5],
  ANVIL_KEYS[6],
] as const;
/** Another initializer, racing the relayer. */
const rival = new Wallet(ANVIL_KEYS[7]);
let validatorUrls: string[];

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployTestBridge({
    rpcUrl: anvil.url,
    threshold: 2,
    sequencers: [sequencer.address],
    validators: validators.map((v) => v.address),
    initializers: [...accounts.map((k) => new Wallet(k).address), rival.address],
  });
  // stub validators: each serves its signature of any message id (the reference's route)
  validatorUrls = [];
  for (const v of validators) {
    const server = await startTestHttpServer((req, res) => {
      const id = /^\/signature\/(0x[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
      if (id === undefined) {
        res.writeHead(404).end('null');
        return;
      }
      const signature = v.signMessageSync(getBytes(id));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message_id: id, signature, signer: v.address }));
    });
    validatorUrls.push(server.url);
    afterAll(() => server.close());
  }
});
afterAll(async () => {
  chain?.provider.destroy();
  await anvil?.stop();
});

async function relayer(
  account: string,
  overrides: Record<string, unknown> = {},
): Promise<RelayerHandle> {
  const handle = await startRelayer(
    {
      rpcUrl: [anvil.url],
      chainId: 31337n,
      bridgeAddress: chain.addresses.bridge,
      privateKey: account,
      validatorUrl: validatorUrls,
      listenAddr: '127.0.0.1:0',
      databasePath: join(tempDir('relayer-ops-'), 'relayer.db'),
      pollInterval: '100ms',
      maxBackoff: '500ms',
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
  onCleanup(() => handle.stop());
  return handle;
}

/** A `/submit-withdrawal` body signed by the registered sequencer key. */
function withdrawalBody(amount = 1000n) {
  const messageId = hexlify(randomBytes(32));
  const target = Wallet.createRandom().address.toLowerCase();
  const payload = '0x1234';
  const hash = keccak256(
    solidityPacked(
      ['bytes32', 'address', 'bytes32', 'uint256'],
      [messageId, target, keccak256(payload), amount],
    ),
  );
  return {
    message_id: messageId,
    target_address: target,
    payload,
    native_token_amount: amount.toString(),
    sequencer_signature: sequencer.signMessageSync(getBytes(hash)),
    sequence: 1,
    timestamp: 1_700_000_000,
  };
}

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface JobJson {
  state: string;
  reason: string | null;
  history: { state: string; detail: string | null }[];
  transactions: { status: string; hash: string }[];
}
const job = async (r: RelayerHandle, id: string) =>
  (await (await fetch(`${r.url}/withdrawals/${id}`)).json()) as JobJson;
const metrics = async (r: RelayerHandle) => (await fetch(`${r.url}/metrics`)).text();

describe('/register-key', () => {
  /** The body a TEE's bootstrap sends: mock attestation, EIP-712 AddKey signed by the key. */
  async function registration(
    key: BaseWallet,
    options: { audience?: string; image?: string; deadline?: bigint; signer?: BaseWallet } = {},
  ) {
    const publicValues = mockPublicValues(key.address, {
      imageDigestHash: options.image ?? ALLOWED_IMAGE,
      audienceHash: keccak256(toUtf8Bytes(options.audience ?? AUDIENCE)),
    });
    const proofBytes = '0x';
    const deadline = options.deadline ?? BigInt(Math.floor(Date.now() / 1000) + 3600);
    const signature = await (options.signer ?? key).signTypedData(
      {
        name: 'TeeKeyManager',
        version: '1',
        chainId: 31337,
        verifyingContract: chain.addresses.keyManager,
      },
      {
        AddKey: [
          { name: 'attestationHash', type: 'bytes32' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      { attestationHash: keccak256(concat([publicValues, proofBytes])), deadline },
    );
    return {
      publicValues,
      proofBytes,
      deadline: Number(deadline),
      signature,
      keyType: 'validator',
    };
  }
  const isKeyValid = (key: string) =>
    chain.keyManager
      .getFunction('isKeyValid')(1, key)
      .then(
        (v: boolean) => v,
        () => false,
      );

  it('registers a key through the job machinery, and refuses what the reference refuses', async () => {
    const account = accounts[0];
    const r = await relayer(account, {
      validatorUrl: undefined,
      requiredAudience: AUDIENCE,
      allowedImageDigests: [ALLOWED_IMAGE],
    });
    const key = Wallet.createRandom();
    const accepted = await post(r.url, '/register-key', await registration(key));
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({
      registeredKey: key.address.toLowerCase(),
      txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });
    expect(await isKeyValid(key.address)).toBe(true);
    const registered = r.store
      .list({ kind: 'register-key', limit: 10, offset: 0 })
      .jobs.find((j) => j.state === 'confirmed');
    expect(registered).toBeDefined();
    expect(r.store.history(registered!.id).map((h) => h.state)).toEqual(
      expect.arrayContaining(['received', 'simulated', 'signed', 'broadcast', 'confirmed']),
    );

    // already valid on-chain: answered from isKeyValid, no transaction
    const nonce = await chain.provider.getTransactionCount(new Wallet(account).address);
    const again = await post(
      r.url,
      '/register-key',
      await registration(key, { deadline: BigInt(Math.floor(Date.now() / 1000) + 7200) }),
    );
    expect(again).toEqual({ status: 200, body: { registeredKey: key.address.toLowerCase() } });
    expect(await chain.provider.getTransactionCount(new Wallet(account).address)).toBe(nonce);

    // refused before any job: audience, image digest, deadline window, length
    const other = Wallet.createRandom();
    const now = BigInt(Math.floor(Date.now() / 1000));
    const refusals = [
      [await registration(other, { audience: 'https://evil.example' }), 403, 'audience'],
      [await registration(other, { image: keccak256(toUtf8Bytes('sha256:other')) }), 403, 'image'],
      [await registration(other, { deadline: now - 10n }), 400, 'deadline'],
      [await registration(other, { deadline: now + 2n * 86_400n }), 400, 'deadline'],
      [{ ...(await registration(other)), publicValues: '0x1234' }, 400, '352'],
    ] as const;
    for (const [body, status, text] of refusals) {
      const answer = await post(r.url, '/register-key', body);
      expect(answer.status, text).toBe(status);
      expect(String(answer.body.error)).toContain(text);
    }
    // a signature by another key: the simulation's custom error, decoded, fails the job
    const forged = await post(
      r.url,
      '/register-key',
      await registration(other, { signer: Wallet.createRandom() }),
    );
    expect(forged.status).toBe(500);
    expect(String(forged.body.error)).toContain('InvalidSignature');
    expect(await isKeyValid(other.address)).toBe(false);
    expect(await chain.provider.getTransactionCount(new Wallet(account).address)).toBe(nonce);
    expect(await metrics(r)).toMatch(/synddb_relayer_reverts_total\{error="InvalidSignature"\} 1/);
  });

  it('answers 403 for every key without a configured audience', async () => {
    const r = await relayer(accounts[0], { validatorUrl: undefined });
    const answer = await post(r.url, '/register-key', await registration(Wallet.createRandom()));
    expect(answer.status).toBe(403);
  });
});

describe('keystore and password file', () => {
  const account = new Wallet(accounts[1]);
  async function keystoreFiles(password: string) {
    const dir = tempDir('relayer-keystore-');
    const json = await encryptKeystoreJson(
      { address: account.address, privateKey: account.privateKey },
      'correct horse battery staple',
      { scrypt: { N: 1 << 12 } },
    );
    writeFileSync(join(dir, 'keystore.json'), json);
    writeFileSync(join(dir, 'password'), `${password}\n`);
    return {
      dir,
      args: [
        '--keystore',
        join(dir, 'keystore.json'),
        '--keystore-password-file',
        join(dir, 'password'),
      ],
    };
  }
  async function run(args: string[], stopWhenStarted: boolean) {
    const out: string[] = [];
    let signal: ((s: 'SIGINT' | 'SIGTERM') => void) | undefined;
    let address: string | undefined;
    const code = await runCli({
      argv: [
        ...args,
        '--rpc-url',
        anvil.url,
        '--chain-id',
        '31337',
        '--bridge-address',
        chain.addresses.bridge,
        '--listen-addr',
        '127.0.0.1:0',
        '--log-level',
        'trace',
        '--log-json',
      ],
      env: {},
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      onSignal: (listener) => {
        signal = listener;
        return () => {};
      },
      exit: () => {},
      onStarted: (handle) => {
        address = handle.address;
        if (stopWhenStarted) signal?.('SIGTERM');
      },
    });
    return { code, output: out.join(''), address };
  }

  it('starts as the keystore account; neither the key nor the password is logged', async () => {
    const { args, dir } = await keystoreFiles('correct horse battery staple');
    const { code, output, address } = await run(
      [...args, '--database-path', join(dir, 'relayer.db')],
      true,
    );
    expect(code, output).toBe(0);
    expect(address).toBe(account.address);
    expect(output).toContain('synddb-relayer started');
    expect(output.toLowerCase()).not.toContain(account.privateKey.slice(2).toLowerCase());
    expect(output).not.toContain('correct horse');
  });

  it('exits 2 with a clear error for a wrong password, without logging the key', async () => {
    const { args, dir } = await keystoreFiles('wrong password');
    const { code, output } = await run(
      [...args, '--database-path', join(dir, 'relayer.db')],
      false,
    );
    expect(code).toBe(2);
    expect(output).toContain('--keystore-password-file');
    expect(output).toMatch(/cannot decrypt the keystore/i);
    expect(output.toLowerCase()).not.toContain(account.privateKey.slice(2).toLowerCase());
    expect(output).not.toContain('wrong password\n');
  });
});

describe('the fee cap', () => {
  it('pauses a job above the cap (reason and alert visible, nothing signed) and lands it once fees drop', async () => {
    const r = await relayer(accounts[2], { maxFeePerGas: '5' }); // 5 gwei
    // the network's base fee at 50 gwei: the next transaction would need more than the cap
    await chain.provider.send('anvil_setNextBlockBaseFeePerGas', [
      `0x${(50n * 10n ** 9n).toString(16)}`,
    ]);
    await chain.provider.send('evm_mine', []);
    const body = withdrawalBody();
    expect((await post(r.url, '/submit-withdrawal?wait=false', body)).status).toBe(202);
    const paused = await waitFor(
      async () => {
        const j = await job(r, body.message_id);
        return j.reason?.startsWith('paused: fee cap') ? j : null;
      },
      { what: 'the job paused at the fee cap' },
    );
    expect(paused.state).toBe('ready');
    expect(paused.transactions).toEqual([]);
    expect(await metrics(r)).toMatch(/synddb_relayer_fee_cap_paused 1/);
    // empty blocks bring the base fee down (-12.5% each) under the cap
    await chain.provider.send('anvil_mine', ['0x30']);
    const done = await waitFor(
      async () => {
        const j = await job(r, body.message_id);
        return j.state === 'confirmed' ? j : null;
      },
      { what: 'the job confirmed after fees dropped', timeoutMs: 30_000 },
    );
    expect(done.history.some((h) => h.detail?.startsWith('paused: fee cap'))).toBe(true);
    expect(done.transactions).toMatchObject([{ status: 'mined' }]);
    expect(await metrics(r)).toMatch(/synddb_relayer_fee_cap_paused 0/);
  });
});

describe('RPC failover', () => {
  it('completes jobs with a dead first RPC URL and counts its errors per endpoint', async () => {
    const dead = 'http://127.0.0.1:1';
    const r = await relayer(accounts[3], { rpcUrl: [dead, anvil.url], rpcTimeout: '2s' });
    const bodies = [withdrawalBody(), withdrawalBody(), withdrawalBody()];
    for (const body of bodies) {
      const answer = await post(r.url, '/submit-withdrawal', body);
      expect(answer.body).toMatchObject({ status: 'confirmed' });
    }
    for (const body of bodies) {
      expect(await chain.provider.getBalance(body.target_address)).toBe(
        BigInt(body.native_token_amount),
      );
    }
    expect((await fetch(`${r.url}/ready`)).status).toBe(200);
    const text = await metrics(r);
    const errors = new RegExp(
      `synddb_relayer_rpc_errors_total\\{endpoint="${dead}"\\} (\\d+)`,
    ).exec(text);
    expect(Number(errors?.[1])).toBeGreaterThan(0);
    expect(text).not.toMatch(
      new RegExp(`synddb_relayer_rpc_errors_total\\{endpoint="${anvil.url}"\\}`),
    );
  });
});

describe('reverts and restarts', () => {
  const MESSAGE_HANDLED = keccak256(toUtf8Bytes('MessageHandled(bytes32,bool)'));
  /** The rival initializer lands the same withdrawal itself, paying a higher tip. */
  async function rivalLands(body: ReturnType<typeof withdrawalBody>) {
    const data = encodeInitializeAndHandle(
      withdrawalMessage(body),
      validators.slice(0, 2).map((v) => v.signMessageSync(getBytes(body.message_id))),
    );
    return rival.connect(chain.provider).sendTransaction({
      to: chain.addresses.bridge,
      data,
      gasLimit: 1_000_000n,
      maxPriorityFeePerGas: 50n * 10n ** 9n,
      maxFeePerGas: 200n * 10n ** 9n,
    });
  }
  const handled = async (id: string) =>
    (
      await chain.provider.getLogs({
        address: chain.addresses.bridge,
        topics: [MESSAGE_HANDLED, id],
        fromBlock: 0,
      })
    ).length;
  const automine = (on: boolean) => chain.provider.send('evm_setAutomine', [on]);

  it('decodes a mined revert into the job, then completes the job from the chain', async () => {
    const r = await relayer(accounts[4]);
    const body = withdrawalBody();
    await automine(false);
    try {
      expect((await post(r.url, '/submit-withdrawal?wait=false', body)).status).toBe(202);
      await waitFor(async () => (await job(r, body.message_id)).state === 'broadcast', {
        what: 'the relayer transaction in the pool',
      });
      await rivalLands(body);
      await chain.provider.send('evm_mine', []);
    } finally {
      await automine(true);
    }
    const done = await waitFor(
      async () => {
        const j = await job(r, body.message_id);
        return j.state === 'confirmed' ? j : null;
      },
      { what: 'the job confirmed from the chain' },
    );
    const reverted = done.history.find((h) => h.detail?.includes('reverted in block'));
    expect(reverted?.detail).toMatch(/MessageAlreadyInitialized\(0x[0-9a-f]{64}\)/);
    expect(done.transactions).toMatchObject([{ status: 'reverted' }]);
    expect(await metrics(r)).toMatch(
      /synddb_relayer_reverts_total\{error="MessageAlreadyInitialized"\} 1/,
    );
    expect(await handled(body.message_id)).toBe(1);
  });

  it('after a restart, fills the nonce of a lost transaction that would now revert, without a gap', async () => {
    const account = new Wallet(accounts[5]);
    const databasePath = join(tempDir('relayer-restart-'), 'relayer.db');
    const first = await relayer(accounts[5], { databasePath });
    const body = withdrawalBody();
    let lost: string;
    const nonceBefore = await chain.provider.getTransactionCount(account.address);
    await automine(false);
    try {
      expect((await post(first.url, '/submit-withdrawal?wait=false', body)).status).toBe(202);
      const pending = await waitFor(
        async () => {
          const j = await job(first, body.message_id);
          return j.state === 'broadcast' ? j : null;
        },
        { what: 'the relayer transaction in the pool' },
      );
      lost = pending.transactions[0]!.hash;
      await first.stop();
      // the pools lose it, and the rival completes the message meanwhile
      await chain.provider.send('anvil_dropTransaction', [lost]);
      await rivalLands(body);
      await chain.provider.send('evm_mine', []);
    } finally {
      await automine(true);
    }
    expect(await handled(body.message_id)).toBe(1);
    const second = await relayer(accounts[5], { databasePath });
    const done = await waitFor(
      async () => {
        const j = await job(second, body.message_id);
        return j.state === 'confirmed' ? j : null;
      },
      { what: 'the job confirmed after the restart' },
    );
    expect(done.history.some((h) => h.detail?.includes('filled with a no-op transfer'))).toBe(true);
    expect(done.transactions).toMatchObject([{ status: 'dropped' }, { status: 'mined' }]);
    expect(await chain.provider.getTransactionReceipt(lost)).toBeNull();
    // the nonce was used (by the no-op), nothing reverted, the withdrawal landed once
    expect(await chain.provider.getTransactionCount(account.address)).toBe(nonceBefore + 1);
    expect(await handled(body.message_id)).toBe(1);
    expect(await metrics(second)).not.toMatch(/synddb_relayer_reverts_total\{error="mined/);
  });
});
