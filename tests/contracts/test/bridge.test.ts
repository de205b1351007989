/**
 * The test contracts behave as the Bridge's documented interface says: the documented selectors,
 * event topics and custom errors, the sequencer digest over (id, target, keccak(payload), amount),
 * validator signatures as EIP-191 over the raw id, the threshold pre-module counting only current
 * validator keys, one initialization per id, and key registration by EIP-712 `AddKey` signature.
 */
import {
  concat,
  getBytes,
  hexlify,
  Interface,
  id,
  keccak256,
  randomBytes,
  solidityPacked,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Anvil,
  compileTestContracts,
  deployTestBridge,
  mockPublicValues,
  startAnvil,
  type TestBridgeDeployment,
} from '../src/index';

let anvil: Anvil;
let chain: TestBridgeDeployment;
const sequencer = Wallet.createRandom();
const validators = [0, 1, 2].map(() => Wallet.createRandom());
const relayer = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployTestBridge({
    rpcUrl: anvil.url,
    threshold: 2,
    sequencers: [sequencer.address],
    validators: validators.map((v) => v.address),
    initializers: [relayer.address],
  });
});
afterAll(async () => {
  chain?.provider.destroy();
  await anvil?.stop();
});

function withdrawal(amount = 1000n, payload = '0x') {
  const messageId = hexlify(randomBytes(32));
  const target = Wallet.createRandom().address;
  const contentHash = keccak256(
    solidityPacked(
      ['bytes32', 'address', 'bytes32', 'uint256'],
      [messageId, target, keccak256(payload), amount],
    ),
  );
  return { messageId, target, payload, amount, contentHash };
}

describe('test Bridge contracts', () => {
  it('have the documented selectors, event topics and error selectors', () => {
    const compiled = compileTestContracts();
    const bridge = new Interface(compiled.TestBridge.abi);
    const keys = new Interface(compiled.TestTeeKeyManager.abi);
    const selector = (i: Interface, name: string) => i.getFunction(name)!.selector;
    expect(selector(bridge, 'initializeMessage')).toBe('0xf4f547da');
    expect(selector(bridge, 'handleMessage')).toBe('0x03936b73');
    expect(selector(bridge, 'initializeAndHandleMessage')).toBe('0x90fd6931');
    expect(selector(bridge, 'signMessageWithSignature')).toBe('0x2f3f39ef');
    expect(selector(bridge, 'getValidatorSignatureCount')).toBe('0x02e10025');
    expect(selector(bridge, 'registerKeyWithSignature')).toBe('0xa107a14c');
    expect(bridge.getEvent('MessageHandled')!.topicHash).toBe(
      '0xaf347853e567f8020a953d5b1521409b15245ab29055cc71e8785dc5c6d3260b',
    );
    expect(bridge.getEvent('MessageInitialized')!.topicHash).toBe(
      '0xff8ef99c48df15cc54d01ad296a96ae3b3fa0e6339126bfcc6436af0439ed09d',
    );
    expect(bridge.getEvent('MessageSigned')!.topicHash).toBe(
      '0x5782a94c04b85dbb21b8fc63d488b36d37b1fea201ea1c09129c51e8e3c90dd6',
    );
    expect(keys.getError('InvalidPublicKey')!.selector).toBe('0xffc44e88');
    expect(keys.getError('KeyAlreadyExists')!.selector).toBe('0xe0accd63');
    expect(keys.getError('KeyExpired')!.selector).toBe('0x8524f9b8');
    expect(bridge.getError('NotMessageInitializer')!.selector).toBe('0xe78d5843');
    expect(bridge.getError('MessageAlreadyInitialized')!.selector).toBe('0x299c9e58');
    expect(bridge.getError('ModuleCheckFailed')!.selector).toBe('0x83e29c65');
    expect(bridge.getError('InvalidSequencerSignature')!.selector).toBe('0x0af8794c');
  });

  it('execute a withdrawal with threshold signatures once; fewer, an unregistered signer or a second time revert', async () => {
    const bridge = chain.bridge.connect(relayer.connect(chain.provider)) as typeof chain.bridge;
    const w = withdrawal(12_345n);
    const sequencerSignature = {
      signature: await sequencer.signMessage(getBytes(w.contentHash)),
      submittedAt: 0,
    };
    const sign = (v: { signMessage(m: Uint8Array): Promise<string> }) =>
      v.signMessage(getBytes(w.messageId));
    const call = (signatures: string[]) =>
      bridge
        .getFunction('initializeAndHandleMessage')
        .staticCall(w.messageId, w.target, w.payload, sequencerSignature, signatures, w.amount);
    const revertName = async (p: Promise<unknown>) => {
      const error = (await p.catch((e: unknown) => e)) as { data?: string };
      const errors = new Interface([
        ...(compileTestContracts().TestBridge.abi as []),
        ...(compileTestContracts().TestTeeKeyManager.abi as []).filter(
          (f: { type: string }) => f.type === 'error',
        ),
      ]);
      return errors.parseError(error.data ?? '0x')?.name;
    };
    expect(await revertName(call([await sign(validators[0]!)]))).toBe('ModuleCheckFailed');
    const rogue = Wallet.createRandom();
    expect(await revertName(call([await sign(validators[0]!), await sign(rogue)]))).toBe(
      'InvalidPublicKey',
    );
    const receipt = await (
      await bridge.getFunction('initializeAndHandleMessage')(
        w.messageId,
        w.target,
        w.payload,
        sequencerSignature,
        [await sign(validators[0]!), await sign(validators[2]!)],
        w.amount,
      )
    ).wait();
    expect(receipt.status).toBe(1);
    expect(await chain.provider.getBalance(w.target)).toBe(12_345n);
    expect(await chain.bridge.getFunction('isMessageCompleted')(w.messageId)).toBe(true);
    expect(await revertName(call([]))).toBe('MessageAlreadyInitialized');
    // only relayers allowed by the owner may initialize
    const outsider = Wallet.createRandom().connect(chain.provider);
    expect(
      await revertName(
        (chain.bridge.connect(outsider) as typeof chain.bridge)
          .getFunction('initializeMessage')
          .staticCall(hexlify(randomBytes(32)), w.target, '0x', sequencerSignature, 0),
      ),
    ).toBe('NotMessageInitializer');
  });

  it('register a key by EIP-712 AddKey signature (domain of the key manager), once', async () => {
    const key = Wallet.createRandom();
    const publicValues = mockPublicValues(key.address);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const signature = await key.signTypedData(
      {
        name: 'TeeKeyManager',
        version: '1',
        chainId: anvil.chainId,
        verifyingContract: chain.addresses.keyManager,
      },
      {
        AddKey: [
          { name: 'attestationHash', type: 'bytes32' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      { attestationHash: keccak256(concat([publicValues, '0x'])), deadline },
    );
    await (
      await chain.bridge.getFunction('registerKeyWithSignature')(
        1,
        publicValues,
        '0x',
        deadline,
        signature,
      )
    ).wait();
    expect(await chain.keyManager.getFunction('isKeyValid')(1, key.address)).toBe(true);
    expect(await chain.keyManager.getFunction('getKeys')(1)).toContain(key.address);
    const again = await chain.bridge
      .getFunction('registerKeyWithSignature')
      .staticCall(1, publicValues, '0x', deadline, signature)
      .catch((e: { data?: string }) => e.data);
    expect(again?.slice(0, 10)).toBe(id('KeyAlreadyExists(address)').slice(0, 10));
  });
});
