import { ANVIL_CHAIN_ID, type Anvil, startAnvil } from './anvil';
import {
  type DeployTestBridgeOptions,
  deployTestBridge,
  type TestBridgeDeployment,
} from './deploy';

export interface StartTestChainOptions extends Omit<DeployTestBridgeOptions, 'rpcUrl'> {
  /**
   * Seconds between blocks once the Bridge is deployed (it is deployed under automine, which is
   * quick); default: automine throughout.
   */
  blockTime?: number;
  /** Extra anvil arguments. */
  anvilArgs?: string[];
  /** Takes what stops the node and closes the provider (a test's `onCleanup`, a bench's list). */
  onCleanup: (cleanup: () => unknown) => void;
}

export interface TestChain {
  anvil: Anvil;
  chain: TestBridgeDeployment;
}

/** anvil with the test Bridge deployed (`deployTestBridge`), then `blockTime` s blocks if given. */
export async function startTestChain(options: StartTestChainOptions): Promise<TestChain> {
  const { blockTime, anvilArgs, onCleanup, ...deployment } = options;
  const anvil = await startAnvil({ args: anvilArgs ?? [] });
  onCleanup(() => anvil.stop());
  const chain = await deployTestBridge({ rpcUrl: anvil.url, ...deployment });
  onCleanup(() => chain.provider.destroy());
  if (blockTime !== undefined) await chain.provider.send('evm_setIntervalMining', [blockTime]);
  return { anvil, chain };
}

/**
 * Arguments of `synddb-validator` (after the binary) for a bridge signer with `key` for the test
 * Bridge at `bridgeAddress` on anvil: the API and the signature API on loopback ports the OS
 * picks, quick sync and batch-index refresh, no query workers.
 */
export function bridgeSignerValidatorArgs(options: {
  sequencerUrl: string;
  sequencerPubkey: string;
  databasePath: string;
  bridgeAddress: string;
  key: string;
}): string[] {
  return [
    '--sequencer-url',
    options.sequencerUrl,
    '--sequencer-pubkey',
    options.sequencerPubkey,
    '--database-path',
    options.databasePath,
    '--bind-address',
    '127.0.0.1:0',
    '--bridge-signer',
    '--bridge-chain-id',
    String(ANVIL_CHAIN_ID),
    '--bridge-address',
    options.bridgeAddress,
    '--bridge-signature-endpoint',
    '127.0.0.1:0',
    '--bridge-signer-key',
    options.key,
    '--sync-interval',
    '50ms',
    '--batch-index-refresh-interval',
    '100ms',
    '--query-workers',
    '0',
  ];
}
