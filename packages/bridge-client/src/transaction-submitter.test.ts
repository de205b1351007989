/**
 * Against a real EVM node (anvil) and this repo's test Bridge: the reader learns the threshold
 * and the Validator keys from the chain; the submitter simulates (decoding the Bridge's custom
 * errors instead of sending a doomed transaction), journals each signed transaction before
 * broadcasting it, lands a withdrawal with threshold signatures, adds only the missing steps to a
 * message someone else initialized, keeps nonces apart under concurrent sends, replaces a
 * transaction the network priced out with the same nonce and fees >= +12.5%, refuses to sign
 * above the fee cap, and resumes a journaled transaction after a "restart" without ever leaving
 * a nonce unused (a refused version is re-signed, a doomed one replaced by a no-op); a mined
 * revert is explained by re-running its call at its block.
 */
import {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  startAnvil,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import { waitFor } from '@synddb/test-support';
import { startJsonRpcFaultProxy } from '@synddb/test-support/chain';
import {
  type BaseWallet,
  getBytes,
  hexlify,
  JsonRpcProvider,
  keccak256,
  randomBytes,
  solidityPacked,
  Transaction,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeHandleMessage,
  encodeInitializeAndHandle,
  encodeSignMessage,
  nextWithdrawalStep,
  type WithdrawalMessage,
} from './bridge-calls';
import { type BridgeReader, createBridgeReader } from './bridge-reader';
import { BridgeCallError, FeeCapExceededError } from './errors';
import { createRpcProviders, type RpcProviders } from './rpc-providers';
import {
  createTransactionSubmitter,
  type JournaledTransaction,
  type SubmitJournal,
} from './transaction-submitter';

let anvil: Anvil;
let chain: TestBridgeDeployment;
let rpc: RpcProviders;
let reader: BridgeReader;
const sequencer = Wallet.createRandom();
const validators = [0, 1, 2].map(() => Wallet.createRandom());
const relayer = new Wallet(ANVIL_KEYS[1]);
const rpcErrors: string[] = [];

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployTestBridge({
    rpcUrl: anvil.url,
    threshold: 2,
    sequencers: [sequencer.address],
    validators: validators.map((v) => v.address),
    initializers: [relayer.address],
  });
  rpc = createRpcProviders({
    urls: ['http://127.0.0.1:1', anvil.url],
    chainId: anvil.chainId,
    timeoutMs: 2000,
    onRpcError: (endpoint) => rpcErrors.push(endpoint),
  });
  reader = createBridgeReader({ provider: rpc.provider, bridgeAddress: chain.addresses.bridge });
});
afterAll(async () => {
  rpc?.destroy();
  chain?.provider.destroy();
  await anvil?.stop();
});

function withdrawal(amount = 1000n): WithdrawalMessage {
  const messageId = hexlify(randomBytes(32));
  const targetAddress = Wallet.createRandom().address;
  const payload = '0x1234';
  const hash = keccak256(
    solidityPacked(
      ['bytes32', 'address', 'bytes32', 'uint256'],
      [messageId, targetAddress, keccak256(payload), amount],
    ),
  );
  return {
    messageId,
    targetAddress,
    payload,
    nativeTokenAmount: amount,
    sequencerSignature: sequencer.signMessageSync(getBytes(hash)),
    submittedAt: 1_700_000_000n,
  };
}

/** The error a promise rejects with, checked to be a `type`. */
async function rejection<E>(
  run: () => Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await run().then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}

const sig = (w: BaseWallet, id: string) => w.signMessageSync(getBytes(id));

function journal() {
  const signed: JournaledTransaction[] = [];
  const broadcast: string[] = [];
  const j: SubmitJournal = {
    signed: (tx) => {
      signed.push(tx);
    },
    broadcast: (tx) => {
      broadcast.push(tx.hash);
    },
  };
  return { j, signed, broadcast };
}

async function rpcCall(method: string, params: unknown[] = []) {
  const p = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
  try {
    return await p.send(method, params);
  } finally {
    p.destroy();
  }
}

describe('bridge reader', () => {
  it('reads the threshold module, the Validator keys and key validity from the chain, failing over RPC URLs', async () => {
    const set = await reader.validatorSet();
    expect(set.threshold).toBe(2);
    expect(set.module.toLowerCase()).toBe(chain.addresses.thresholdModule.toLowerCase());
    expect(set.keys.sort()).toEqual(validators.map((v) => v.address.toLowerCase()).sort());
    expect(await reader.isKeyValid(0, sequencer.address)).toBe(true);
    expect(await reader.isKeyValid(1, Wallet.createRandom().address)).toBe(false);
    expect(await reader.isMessageInitializer(relayer.address)).toBe(true);
    expect(await reader.messageStatus(hexlify(randomBytes(32)))).toEqual({
      initialized: false,
      completed: false,
    });
    expect(rpcErrors.length).toBeGreaterThan(0); // the dead first URL was tried and reported
  });
});

describe('transaction submitter', () => {
  const submitter = () =>
    createTransactionSubmitter({
      rpc,
      wallet: relayer,
      chainId: anvil.chainId,
      pollIntervalMs: 50,
      replaceAfterMs: 400,
    });

  it('decodes a doomed call in simulation and sends nothing', async () => {
    const s = submitter();
    const m = withdrawal();
    const before = await rpc.provider.getTransactionCount(relayer.address);
    // one signature, threshold two: the threshold module fails the pre-execution check
    const one = await rejection(
      () =>
        s.simulate({
          to: chain.addresses.bridge,
          data: encodeInitializeAndHandle(m, [sig(validators[0]!, m.messageId)]),
        }),
      BridgeCallError,
    );
    expect(one.revert).toMatchObject({ name: 'ModuleCheckFailed', permanent: false });
    // an unregistered signer reverts the whole call
    const stranger = await rejection(
      () =>
        s.simulate({
          to: chain.addresses.bridge,
          data: encodeInitializeAndHandle(m, [
            sig(validators[0]!, m.messageId),
            sig(Wallet.createRandom(), m.messageId),
          ]),
        }),
      BridgeCallError,
    );
    expect(stranger.revert).toMatchObject({ name: 'InvalidPublicKey', permanent: true });
    const { j, signed } = journal();
    const bad = { ...m, sequencerSignature: sig(Wallet.createRandom(), m.messageId) };
    const sent = await rejection(
      () =>
        s.send(
          {
            to: chain.addresses.bridge,
            data: encodeInitializeAndHandle(
              bad,
              validators.map((v) => sig(v, m.messageId)),
            ),
          },
          j,
        ),
      BridgeCallError,
    );
    expect(sent.permanent).toBe(true);
    expect(signed).toEqual([]);
    expect(await rpc.provider.getTransactionCount(relayer.address)).toBe(before);
  });

  it('lands a withdrawal with threshold signatures, journaling before the broadcast', async () => {
    const s = submitter();
    const m = withdrawal(12_345n);
    const { j, signed, broadcast } = journal();
    const outcome = await s.send(
      {
        to: chain.addresses.bridge,
        data: encodeInitializeAndHandle(m, [
          sig(validators[0]!, m.messageId),
          sig(validators[2]!, m.messageId),
        ]),
      },
      j,
    );
    expect(outcome.status).toBe('mined');
    if (outcome.status !== 'mined') return;
    expect(outcome.receipt.success).toBe(true);
    expect(signed.map((t) => t.hash)).toEqual([outcome.tx.hash]);
    expect(broadcast).toEqual([outcome.tx.hash]);
    expect(await reader.messageStatus(m.messageId)).toEqual({ initialized: true, completed: true });
    expect(await rpc.provider.getBalance(m.targetAddress)).toBe(12_345n);
  });

  it('completes a message another initializer started, without initializing it again', async () => {
    const s = submitter();
    const m = withdrawal();
    // someone initialized it (the owner is made an initializer) with no signatures
    await (
      await chain.bridge.getFunction('setMessageInitializer')(chain.owner.address, true)
    ).wait();
    await (
      await chain.bridge.getFunction('initializeMessage')(
        m.messageId,
        m.targetAddress,
        m.payload,
        { signature: m.sequencerSignature, submittedAt: m.submittedAt },
        m.nativeTokenAmount,
      )
    ).wait();
    const signatures = validators.map((v) => ({
      signer: v.address.toLowerCase(),
      signature: sig(v, m.messageId),
    }));
    const again = await rejection(
      () =>
        s.simulate({
          to: chain.addresses.bridge,
          data: encodeInitializeAndHandle(
            m,
            signatures.map((x) => x.signature),
          ),
        }),
      BridgeCallError,
    );
    expect(again.revert?.name).toBe('MessageAlreadyInitialized');
    const steps: string[] = [];
    for (let i = 0; i < 5; i++) {
      const set = await reader.validatorSet();
      const step = nextWithdrawalStep({
        status: await reader.messageStatus(m.messageId),
        threshold: set.threshold,
        signatures,
        signedOnChain: await reader.signedOnChain(m.messageId, set.keys),
      });
      steps.push(step.kind);
      if (step.kind === 'completed') break;
      const data =
        step.kind === 'sign'
          ? encodeSignMessage(m.messageId, step.signature)
          : step.kind === 'handle'
            ? encodeHandleMessage(m.messageId)
            : '0x';
      const outcome = await s.send({ to: chain.addresses.bridge, data }, journal().j);
      expect(outcome.status === 'mined' && outcome.receipt.success).toBe(true);
    }
    expect(steps).toEqual(['sign', 'sign', 'handle', 'completed']);
  });

  it('keeps nonces apart for concurrent sends', async () => {
    const s = submitter();
    const messages = Array.from({ length: 8 }, () => withdrawal());
    const outcomes = await Promise.all(
      messages.map((m) =>
        s.send(
          {
            to: chain.addresses.bridge,
            data: encodeInitializeAndHandle(
              m,
              validators.map((v) => sig(v, m.messageId)),
            ),
          },
          journal().j,
        ),
      ),
    );
    const nonces = outcomes.map((o) => (o.status === 'mined' ? o.tx.nonce : -1));
    expect(new Set(nonces).size).toBe(8);
    expect(outcomes.every((o) => o.status === 'mined' && o.receipt.success)).toBe(true);
  });

  it('replaces a priced-out transaction with the same nonce and fees >= +12.5%, and resumes a journal', async () => {
    const s = submitter();
    const m = withdrawal();
    await rpcCall('evm_setAutomine', [false]);
    try {
      const { j, signed } = journal();
      const sending = s.send(
        {
          to: chain.addresses.bridge,
          data: encodeInitializeAndHandle(
            m,
            validators.map((v) => sig(v, m.messageId)),
          ),
        },
        j,
      );
      await waitFor(() => signed.length > 0, { what: 'the first version signed', intervalMs: 10 });
      const first = signed[0]!;
      // a fee spike: the next block's base fee is above what the transaction pays
      await rpcCall('anvil_setNextBlockBaseFeePerGas', [
        `0x${(first.maxFeePerGas * 4n).toString(16)}`,
      ]);
      await rpcCall('evm_mine');
      await waitFor(() => signed.length >= 2, { what: 'the replacement signed', intervalMs: 10 });
      await rpcCall('evm_mine');
      const outcome = await sending;
      expect(outcome.status).toBe('mined');
      if (outcome.status !== 'mined') return;
      const [a, b] = signed;
      expect(b!.nonce).toBe(a!.nonce);
      expect(b!.maxFeePerGas * 1000n >= a!.maxFeePerGas * 1125n).toBe(true);
      expect(b!.maxPriorityFeePerGas * 1000n >= a!.maxPriorityFeePerGas * 1125n).toBe(true);
      expect(outcome.tx.hash).not.toBe(a!.hash);
      expect(await rpc.provider.getTransactionReceipt(a!.hash)).toBeNull();

      // a "restarted" submitter resumes from the journal: the mined version is found, nothing sent
      const resumed = await submitter().resume(signed, journal().j);
      expect(resumed.status === 'mined' && resumed.tx.hash).toBe(outcome.tx.hash);
    } finally {
      await rpcCall('evm_setAutomine', [true]);
    }
  });

  /** A journaled version signed by hand (as a previous run would have), not broadcast. */
  async function journaled(
    data: string,
    nonce: number,
    fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  ): Promise<JournaledTransaction> {
    const raw = await relayer.signTransaction(
      Transaction.from({
        type: 2,
        chainId: anvil.chainId,
        nonce,
        to: chain.addresses.bridge,
        data,
        gasLimit: 1_000_000n,
        ...fees,
      }),
    );
    return { hash: Transaction.from(raw).hash!, nonce, raw, gasLimit: 1_000_000n, ...fees };
  }
  const cheap = { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }; // under the base fee: refused
  const normal = { maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n };
  const initialize = (m: WithdrawalMessage) =>
    encodeInitializeAndHandle(
      m,
      validators.map((v) => sig(v, m.messageId)),
    );

  it('re-signs a resumed transaction every node refuses at the same nonce, so later nonces are not stuck', async () => {
    const nonce = await rpc.provider.getTransactionCount(relayer.address, 'latest');
    const [m, later] = [withdrawal(), withdrawal()];
    const refused = await journaled(initialize(m), nonce, cheap);
    // a later transaction of the account, already in the pool: it waits for `nonce`
    const next = await journaled(initialize(later), nonce + 1, normal);
    await rpc.provider.broadcastTransaction(next.raw);
    const rejected: string[] = [];
    const { j, signed } = journal();
    // one endpoint, so the refusal is definite; no timed replacement: the re-signing is at once
    const direct = createRpcProviders({ urls: [anvil.url], chainId: anvil.chainId });
    const s = createTransactionSubmitter({
      rpc: direct,
      wallet: relayer,
      chainId: anvil.chainId,
      pollIntervalMs: 50,
      replaceAfterMs: 60_000,
    });
    const outcome = await s.resume([refused], {
      ...j,
      rejected: (tx) => {
        rejected.push(tx.hash);
      },
    });
    expect(outcome.status).toBe('mined');
    if (outcome.status !== 'mined') return;
    expect(outcome.tx.nonce).toBe(nonce);
    expect(outcome.tx.hash).not.toBe(refused.hash);
    expect(outcome.receipt.success).toBe(true);
    expect(signed.map((t) => t.hash)).toEqual([outcome.tx.hash]);
    expect(rejected).toEqual([refused.hash]);
    expect((await reader.messageStatus(m.messageId)).completed).toBe(true);
    const nextReceipt = await waitFor(() => rpc.provider.getTransactionReceipt(next.hash), {
      what: 'the later nonce mined',
    });
    expect(nextReceipt.status).toBe(1);
    direct.destroy();
  });

  it('fills the nonce of a journaled transaction that would now revert with a no-op, never sending it', async () => {
    const nonce = await rpc.provider.getTransactionCount(relayer.address, 'latest');
    const m = withdrawal();
    // someone completed the message while the relayer was down: the journaled call would revert
    const doomed = await journaled(initialize(m), nonce, normal);
    const other = createTransactionSubmitter({
      rpc,
      wallet: new Wallet(ANVIL_KEYS[0]), // the owner: set as an initializer below
      chainId: anvil.chainId,
    });
    await (
      await chain.bridge.getFunction('setMessageInitializer')(
        new Wallet(ANVIL_KEYS[0]).address,
        true,
      )
    ).wait();
    const done = await other.send({ to: chain.addresses.bridge, data: initialize(m) }, journal().j);
    expect(done.status === 'mined' && done.receipt.success).toBe(true);
    const { j, signed } = journal();
    const outcome = await submitter().resume([doomed], j);
    expect(outcome.status).toBe('filled');
    if (outcome.status !== 'filled') return;
    expect(outcome.nonce).toBe(nonce);
    expect(outcome.receipt.success).toBe(true);
    expect(signed).toHaveLength(1);
    const filler = Transaction.from(signed[0]!.raw);
    expect([filler.to, filler.data, filler.value]).toEqual([relayer.address, '0x', 0n]);
    expect(await rpc.provider.getTransaction(doomed.hash)).toBeNull();
    expect(await rpc.provider.getTransactionCount(relayer.address, 'latest')).toBe(nonce + 1);
  });

  it('hands out a nonce gap left by a previous run first', async () => {
    const nonce = await rpc.provider.getTransactionCount(relayer.address, 'latest');
    // the journal of a previous run: nonce + 1 pending, nonce never used (a gap)
    const pending = await journaled(initialize(withdrawal()), nonce + 1, normal);
    await rpc.provider.broadcastTransaction(pending.raw);
    const s = submitter();
    s.reserveNoncesBelow(nonce + 2, [nonce + 1]);
    const outcome = await s.send(
      { to: chain.addresses.bridge, data: initialize(withdrawal()) },
      journal().j,
    );
    expect(outcome.status === 'mined' && outcome.tx.nonce).toBe(nonce);
    const receipt = await waitFor(() => rpc.provider.getTransactionReceipt(pending.hash), {
      what: 'the pending nonce mined after the gap was filled',
    });
    expect(receipt.status).toBe(1);
  });

  it('explains a mined revert by re-running its call at its block', async () => {
    const s = submitter();
    const m = withdrawal();
    await rpcCall('evm_setAutomine', [false]);
    try {
      const { j, broadcast } = journal();
      // both simulate fine while neither is mined; the second to be mined reverts
      const sends = [0, 1].map(() =>
        s.send({ to: chain.addresses.bridge, data: initialize(m) }, j),
      );
      // both in the node's pool before the block (journaled 'signed' comes before the broadcast:
      // mining on that could leave the second pending forever with automine off)
      await waitFor(() => broadcast.length === 2, { what: 'both broadcast', intervalMs: 10 });
      await waitFor(
        async () => {
          const found = await Promise.all(
            broadcast.map((hash) => rpcCall('eth_getTransactionByHash', [hash])),
          );
          return found.every((tx) => tx !== null);
        },
        { what: 'both in the pool', intervalMs: 20 },
      );
      await rpcCall('evm_mine');
      const outcomes = await Promise.all(sends);
      const reverted = outcomes.find((o) => o.status === 'mined' && !o.receipt.success);
      expect(reverted?.status).toBe('mined');
      if (reverted?.status !== 'mined') return;
      const revert = await s.explainRevert(reverted.tx, reverted.receipt);
      expect(revert).toMatchObject({ name: 'MessageAlreadyInitialized', args: [m.messageId] });
    } finally {
      await rpcCall('evm_setAutomine', [true]);
    }
  });

  it('waits out failed receipt lookups of its own mined transaction instead of calling its nonce consumed by another', async () => {
    // Every receipt lookup fails (its connection is dropped) while the transaction is mined: the
    // chain's nonce passes ours but nothing proves whose transaction used it. Reporting
    // 'nonce_consumed' made the relayer mark its own mined transaction dropped.
    const proxy = await startJsonRpcFaultProxy({
      upstream: anvil.url,
      dropRateByMethod: { eth_getTransactionReceipt: 1 },
      dropAfterForwardShare: 0,
    });
    const lossy = createRpcProviders({
      urls: [proxy.url],
      chainId: anvil.chainId,
      timeoutMs: 2000,
    });
    try {
      const s = createTransactionSubmitter({
        rpc: lossy,
        wallet: relayer,
        chainId: anvil.chainId,
        pollIntervalMs: 50,
        replaceAfterMs: 60_000,
      });
      const m = withdrawal(777n);
      const { j, signed } = journal();
      const outcome = s.send(
        {
          to: chain.addresses.bridge,
          data: encodeInitializeAndHandle(m, [
            sig(validators[0]!, m.messageId),
            sig(validators[1]!, m.messageId),
          ]),
        },
        j,
      );
      // Mined (anvil mines at once) while every receipt lookup fails, for several nonce checks.
      await waitFor(async () => (await reader.messageStatus(m.messageId)).completed, {
        what: 'the withdrawal mined',
        timeoutMs: 10_000,
      });
      await new Promise((r) => setTimeout(r, 1000));
      expect(proxy.stats().byMethod.eth_getTransactionCount ?? 0).toBeGreaterThan(1);
      proxy.setRates({ dropRateByMethod: {} });
      const result = await outcome;
      expect(result.status).toBe('mined');
      if (result.status !== 'mined') return;
      expect(result.tx.hash).toBe(signed[0]!.hash);
      expect(result.receipt.success).toBe(true);
    } finally {
      lossy.destroy();
      await proxy.close();
    }
  });

  it('refuses to sign above the fee cap', async () => {
    const s = createTransactionSubmitter({
      rpc,
      wallet: relayer,
      chainId: anvil.chainId,
      maxFeePerGas: 1n,
    });
    const m = withdrawal();
    const { j, signed } = journal();
    await rejection(
      () =>
        s.send(
          {
            to: chain.addresses.bridge,
            data: encodeInitializeAndHandle(
              m,
              validators.map((v) => sig(v, m.messageId)),
            ),
          },
          j,
        ),
      FeeCapExceededError,
    );
    expect(signed).toEqual([]);
  });
});
