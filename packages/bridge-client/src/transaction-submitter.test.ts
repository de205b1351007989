/**
 * Against a real EVM node (anvil) and this repo's test Bridge: the reader learns the threshold
 * and the Validator keys from the chain; the submitter simulates (decoding the Bridge's custom
 * errors instead of sending a doomed transaction), journals each signed transaction before
 * broadcasting it, lands a withdrawal with threshold signatures, adds only the missing steps to a
 * message someone else initialized, keeps nonces apart under concurrent sends, replaces a
 * transaction the network priced out with the same nonce and fees >= +12.5%, refuses to sign
 * above the fee cap, and resumes a journaled transaction after a "restart".
 */
import {
  ANVIL_KEYS,
  type Anvil,
  deployTestBridge,
  startAnvil,
  type TestBridgeDeployment,
} from '@synddb/test-contracts';
import {
  type BaseWallet,
  getBytes,
  hexlify,
  JsonRpcProvider,
  keccak256,
  randomBytes,
  solidityPacked,
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
      while (signed.length === 0) await new Promise((r) => setTimeout(r, 20));
      const first = signed[0]!;
      // a fee spike: the next block's base fee is above what the transaction pays
      await rpcCall('anvil_setNextBlockBaseFeePerGas', [
        `0x${(first.maxFeePerGas * 4n).toString(16)}`,
      ]);
      await rpcCall('evm_mine');
      while (signed.length < 2) await new Promise((r) => setTimeout(r, 20));
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
