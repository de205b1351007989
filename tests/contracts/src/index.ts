export {
  ANVIL_CHAIN_ID,
  ANVIL_KEYS,
  type Anvil,
  anvilBinary,
  type StartAnvilOptions,
  startAnvil,
} from './anvil';
export {
  type CompiledContract,
  type CompiledContracts,
  type ContractName,
  compileTestContracts,
} from './compile';
export {
  type DeployTestBridgeOptions,
  deployTestBridge,
  mockPublicValues,
  SEQUENCER_KEY_TYPE,
  type TestBridgeDeployment,
  VALIDATOR_KEY_TYPE,
} from './deploy';
export { addressOfKey, randomKey } from './keys';
export {
  bridgeSignerValidatorArgs,
  type StartTestChainOptions,
  startTestChain,
  type TestChain,
} from './test-chain';
