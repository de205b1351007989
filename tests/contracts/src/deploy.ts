import {
  AbiCoder,
  type BaseContract,
  Contract,
  ContractFactory,
  type ContractRunner,
  JsonRpcProvider,
  NonceManager,
  parseEther,
  Wallet,
} from 'ethers';
import { ANVIL_KEYS } from './anvil';
import { compileTestContracts } from './compile';

export const SEQUENCER_KEY_TYPE = 0;
export const VALIDATOR_KEY_TYPE = 1;

/**
 * `publicValues` the test key manager's mock attestation accepts for `key`: 352 bytes (the size
 * of the real attestation struct) with the key in word 0 and word 4 (the relayer reads word 4).
 */
export function mockPublicValues(
  key: string,
  options: { imageDigestHash?: string; audienceHash?: string } = {},
): string {
  const zero = `0x${'00'.repeat(32)}`;
  return AbiCoder.defaultAbiCoder().encode(
    [
      'address',
      'uint64',
      'uint64',
      'bytes32',
      'address',
      'bool',
      'bool',
      'bytes32',
      'uint8',
      'bytes32',
      'bytes32',
    ],
    [
      key,
      0,
      0,
      options.imageDigestHash ?? zero,
      key,
      true,
      true,
      options.audienceHash ?? zero,
      27,
      zero,
      zero,
    ],
  );
}

export interface DeployTestBridgeOptions {
  /** JSON-RPC URL of the node (e.g. anvil's). */
  rpcUrl: string;
  /** Deployer and owner; default anvil account 0. */
  ownerKey?: string;
  /** Validator signatures the threshold pre-module requires. Default 1. */
  threshold?: number;
  /** Registered sequencer key addresses. */
  sequencers?: string[];
  /** Registered validator key addresses. */
  validators?: string[];
  /** Accounts allowed to initialize messages (relayers). */
  initializers?: string[];
  /** Native tokens the Bridge holds for withdrawals, in ether. Default '100'. */
  fund?: string;
}

export interface TestBridgeDeployment {
  bridge: Contract;
  keyManager: Contract;
  thresholdModule: Contract;
  addresses: { bridge: string; keyManager: string; thresholdModule: string };
  owner: Wallet;
  provider: JsonRpcProvider;
}

async function deploy(
  name: 'TestTeeKeyManager' | 'TestBridge' | 'ValidatorSignatureThresholdModule',
  signer: ContractRunner,
  ...args: unknown[]
): Promise<BaseContract> {
  const { abi, bytecode } = compileTestContracts()[name];
  const contract = await new ContractFactory(abi, bytecode, signer as Wallet).deploy(...args);
  await contract.waitForDeployment();
  return contract;
}

/**
 * Deploys the test key manager, Bridge and validator-signature threshold module, wires them,
 * registers keys and initializers and funds the Bridge. Returns contracts bound to the owner.
 */
export async function deployTestBridge(
  options: DeployTestBridgeOptions,
): Promise<TestBridgeDeployment> {
  const provider = new JsonRpcProvider(options.rpcUrl, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    // tx.wait() polls at this interval: ethers' default (4 s) costs up to 4 s per transaction
    // on a node with a block time
    pollingInterval: 50,
  });
  const owner = new Wallet(options.ownerKey ?? ANVIL_KEYS[0], provider);
  const signer = new NonceManager(owner);
  const compiled = compileTestContracts();
  const keyManagerDeployed = await deploy('TestTeeKeyManager', signer);
  const keyManagerAddress = await keyManagerDeployed.getAddress();
  const bridgeDeployed = await deploy('TestBridge', signer, keyManagerAddress);
  const bridgeAddress = await bridgeDeployed.getAddress();
  const moduleDeployed = await deploy(
    'ValidatorSignatureThresholdModule',
    signer,
    bridgeAddress,
    keyManagerAddress,
    options.threshold ?? 1,
  );
  const moduleAddress = await moduleDeployed.getAddress();
  const keyManager = new Contract(keyManagerAddress, compiled.TestTeeKeyManager.abi, signer);
  const bridge = new Contract(bridgeAddress, compiled.TestBridge.abi, signer);
  const thresholdModule = new Contract(
    moduleAddress,
    compiled.ValidatorSignatureThresholdModule.abi,
    signer,
  );
  const wait = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait();
  await wait(keyManager.getFunction('setBridge')(bridgeAddress));
  await wait(bridge.getFunction('addPreModule')(moduleAddress));
  for (const key of options.sequencers ?? []) {
    await wait(bridge.getFunction('registerKey')(SEQUENCER_KEY_TYPE, mockPublicValues(key), '0x'));
  }
  for (const key of options.validators ?? []) {
    await wait(bridge.getFunction('registerKey')(VALIDATOR_KEY_TYPE, mockPublicValues(key), '0x'));
  }
  for (const initializer of options.initializers ?? []) {
    await wait(bridge.getFunction('setMessageInitializer')(initializer, true));
  }
  await wait(
    signer.sendTransaction({ to: bridgeAddress, value: parseEther(options.fund ?? '100') }),
  );
  return {
    bridge,
    keyManager,
    thresholdModule,
    addresses: {
      bridge: bridgeAddress,
      keyManager: keyManagerAddress,
      thresholdModule: moduleAddress,
    },
    owner,
    provider,
  };
}
