import { Contract, type Provider } from 'ethers';
import { BRIDGE_ABI, KEY_MANAGER_ABI, KeyType, THRESHOLD_MODULE_ABI } from './abi';
import { decodeRevert } from './decode-revert';
import { BridgeCallError, BridgeClientInputError } from './errors';

export interface CreateBridgeReaderOptions {
  provider: Provider;
  bridgeAddress: string;
  /**
   * The validator-signature threshold pre-module. Default: found among the Bridge's pre-modules
   * (`getPreModules()`) as the first one answering `signatureThreshold()`.
   */
  thresholdModule?: string | undefined;
}

/** The Validator keys currently registered and the signatures a message needs. */
export interface ValidatorSet {
  threshold: number;
  /** Current Validator keys, lowercase. */
  keys: string[];
  /** The threshold module read. */
  module: string;
}

export interface MessageStatus {
  initialized: boolean;
  completed: boolean;
}

export interface BridgeReader {
  readonly bridgeAddress: string;
  keyManagerAddress(): Promise<string>;
  validatorSet(): Promise<ValidatorSet>;
  messageStatus(messageId: string): Promise<MessageStatus>;
  /** The validators (of `validators`) whose signature the Bridge has recorded for the message. */
  signedOnChain(messageId: string, validators: readonly string[]): Promise<string[]>;
  /** Whether `key` is a current key of `keyType` (false for unknown or expired keys). */
  isKeyValid(keyType: KeyType, key: string): Promise<boolean>;
  isMessageInitializer(account: string): Promise<boolean>;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Read-only views of the Bridge, its key manager and its threshold module. */
export function createBridgeReader(options: CreateBridgeReaderOptions): BridgeReader {
  if (!ADDRESS.test(options.bridgeAddress)) {
    throw new BridgeClientInputError('Bridge address must be 0x + 40 hex', options.bridgeAddress);
  }
  const { provider } = options;
  const bridge = new Contract(options.bridgeAddress, BRIDGE_ABI, provider);
  let keyManager: Promise<Contract> | undefined;
  let moduleAddress: Promise<string> | undefined;

  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const revert = decodeRevert(error);
      throw new BridgeCallError(`${what} failed`, {
        revert,
        permanent: false,
        cause: error,
      });
    }
  };

  const getKeyManager = () => {
    keyManager ??= call('Bridge.teeKeyManager()', async () => {
      const address = (await bridge.getFunction('teeKeyManager')()) as string;
      return new Contract(address, KEY_MANAGER_ABI, provider);
    }).catch((error: unknown) => {
      keyManager = undefined;
      throw error;
    });
    return keyManager;
  };

  const findModule = () => {
    moduleAddress ??= (async () => {
      if (options.thresholdModule !== undefined) return options.thresholdModule;
      const modules = await call(
        'Bridge.getPreModules()',
        async () => (await bridge.getFunction('getPreModules')()) as string[],
      );
      for (const module of modules) {
        try {
          await new Contract(module, THRESHOLD_MODULE_ABI, provider).getFunction(
            'signatureThreshold',
          )();
          return module;
        } catch {
          // not a threshold module
        }
      }
      throw new BridgeCallError('The Bridge has no validator-signature threshold pre-module', {
        permanent: true,
        details: `pre-modules: ${modules.join(', ') || 'none'}; set the threshold module explicitly`,
      });
    })().catch((error: unknown) => {
      moduleAddress = undefined;
      throw error;
    });
    return moduleAddress;
  };

  return {
    bridgeAddress: options.bridgeAddress,
    async keyManagerAddress() {
      return (await getKeyManager()).getAddress();
    },
    async validatorSet() {
      const module = await findModule();
      const [threshold, keys] = await Promise.all([
        call('signatureThreshold()', async () =>
          Number(
            (await new Contract(module, THRESHOLD_MODULE_ABI, provider).getFunction(
              'signatureThreshold',
            )()) as bigint,
          ),
        ),
        call('TeeKeyManager.getKeys(Validator)', async () =>
          (
            (await (await getKeyManager()).getFunction('getKeys')(KeyType.Validator)) as string[]
          ).map((k) => k.toLowerCase()),
        ),
      ]);
      return { threshold, keys, module };
    },
    async messageStatus(messageId) {
      const [initialized, completed] = await Promise.all([
        call(
          'isMessageInitialized',
          () => bridge.getFunction('isMessageInitialized')(messageId) as Promise<boolean>,
        ),
        call(
          'isMessageCompleted',
          () => bridge.getFunction('isMessageCompleted')(messageId) as Promise<boolean>,
        ),
      ]);
      return { initialized, completed };
    },
    async signedOnChain(messageId, validators) {
      const flags = await Promise.all(
        validators.map((v) =>
          call(
            'validatorSignatures',
            () => bridge.getFunction('validatorSignatures')(messageId, v) as Promise<boolean>,
          ),
        ),
      );
      return validators.filter((_, i) => flags[i]).map((v) => v.toLowerCase());
    },
    async isKeyValid(keyType, key) {
      const manager = await getKeyManager();
      try {
        return (await manager.getFunction('isKeyValid')(keyType, key)) as boolean;
      } catch (error) {
        const revert = decodeRevert(error);
        if (revert?.name === 'InvalidPublicKey' || revert?.name === 'KeyExpired') return false;
        throw new BridgeCallError('TeeKeyManager.isKeyValid failed', {
          revert,
          permanent: false,
          cause: error,
        });
      }
    },
    async isMessageInitializer(account) {
      return call(
        'messageInitializers',
        () => bridge.getFunction('messageInitializers')(account) as Promise<boolean>,
      );
    },
  };
}
