import { dirname, join, resolve } from 'node:path';
import {
  type BridgeSignerKey,
  createOutboxSigner,
  generateSignerKey,
  loadOrCreateSignerKey,
  type OutboxSigner,
  signerKeyFromHex,
  toMessageSignature,
  withdrawalOutboxEntry,
} from '@synddb/bridge-signer';
import {
  createSignatureApi,
  type MessageSignature,
  type ServedApi,
  serveValidatorApi,
  type ValidatorMetrics,
} from '@synddb/http-api';
import type { StateStore } from '@synddb/state-store';
import type { SyncEngine, WithdrawalHandler } from '@synddb/sync';
import type { ValidatorConfig } from './config/config-schema';
import type { Logger } from './logger';
import { isInMemory } from './replica';

const ZERO_ADDRESS = `0x${'0'.repeat(40)}`;

/**
 * Bridge signer mode (BRIDGE_SIGNER=true). Each synced withdrawal is queued in the replica's
 * outbox inside the transaction that applies it (`withdrawalHandler`); after the commit the
 * queued withdrawals are signed and the signatures stored beside them, so only committed data
 * is ever signed and a restart neither loses nor repeats a signature.
 */
export interface BridgeSigning {
  /** The signer's address (EIP-55): register it in TeeKeyManager as a Validator key. */
  readonly address: string;
  /** For createSyncEngine: queues each withdrawal in the apply transaction. */
  readonly withdrawalHandler: WithdrawalHandler;
  /** Signs what the outbox already holds, then after every commit; serves the signature API. */
  start(engine: SyncEngine): Promise<{ url: string }>;
  /** Stops signing and closes the signature API. Idempotent. */
  close(): Promise<void>;
}

/** The signing key: BRIDGE_SIGNER_KEY, else the key file (created on first start). */
export function resolveBridgeSignerKey(config: ValidatorConfig, logger: Logger): BridgeSignerKey {
  if (config.bridgeSignerKey !== undefined) return signerKeyFromHex(config.bridgeSignerKey);
  if (config.bridgeSignerKeyFile === undefined && isInMemory(config.databasePath)) {
    const key = generateSignerKey();
    logger.warn(
      'bridge signer key is ephemeral (a :memory: replica and no BRIDGE_SIGNER_KEY_FILE): it changes at every start',
      { address: key.address },
    );
    return key;
  }
  const keyFile =
    config.bridgeSignerKeyFile ?? join(dirname(resolve(config.databasePath)), 'bridge-signer.key');
  const { key, created } = loadOrCreateSignerKey({ keyFile });
  if (created) {
    logger.warn(
      'created a bridge signer key: register its address in TeeKeyManager as a Validator key',
      {
        keyFile,
        address: key.address,
      },
    );
  }
  return key;
}

export function createBridgeSigning(
  config: ValidatorConfig,
  key: BridgeSignerKey,
  metrics: ValidatorMetrics,
  logger: Logger,
): BridgeSigning {
  const chainId = config.bridgeChainId ?? 0n;
  const bridgeContract = config.bridgeAddress ?? ZERO_ADDRESS;
  let server: ServedApi | undefined;
  let detach: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  const signRound = (signer: OutboxSigner): void => {
    const { failed } = signer.signPending();
    metrics.withdrawalsUnsigned.set(failed);
  };

  return {
    address: key.address,
    withdrawalHandler: ({ sequence, request, state }) => {
      state.enqueue(withdrawalOutboxEntry({ sequence, request }));
    },
    async start(engine) {
      const state: StateStore = engine.state;
      const signer = createOutboxSigner({
        state,
        key,
        onSigned: (e) => {
          metrics.withdrawalsSigned.inc();
          logger.debug('withdrawal signed', { messageId: e.messageId, sequence: e.sequence });
        },
        onError: (e) => {
          metrics.withdrawalSigningErrors.inc();
          logger.error('cannot sign a withdrawal; it stays queued', {
            messageId: e.messageId,
            sequence: e.sequence,
            error: e.error,
          });
        },
      });
      // withdrawals committed before a crash or a stop, not yet signed
      signRound(signer);
      const onCommitted = (e: { byType: Record<string, number> }) => {
        if ((e.byType.withdrawal ?? 0) > 0) signRound(signer);
      };
      engine.on('messagesCommitted', onCommitted);
      detach = () => engine.off('messagesCommitted', onCommitted);
      const app = createSignatureApi({
        info: () => ({ signer: key.address, bridgeContract, chainId }),
        get: (messageId) => signatureOf(state, messageId),
        list: (limit, offset) =>
          state
            .signed(limit, offset)
            .map(toMessageSignature)
            .filter((s): s is MessageSignature => s !== null),
        count: () => state.signedCount(),
        onResponse: (r) => {
          if (logger.isEnabled('debug')) logger.debug('signature api request', { ...r });
        },
      });
      server = await serveValidatorApi(app, { bindAddress: config.bridgeSignatureEndpoint });
      logger.info('bridge signer started', {
        address: key.address,
        signatureApi: server.url,
        chainId: chainId.toString(),
        bridgeContract,
        signed: state.signedCount(),
      });
      return { url: server.url };
    },
    close() {
      closing ??= (async () => {
        detach?.();
        await server?.close();
      })();
      return closing;
    },
  };
}

function signatureOf(state: StateStore, messageId: string): MessageSignature | null {
  const entry = state.outboxEntry(messageId);
  return entry === null || entry.kind !== 'withdrawal' ? null : toMessageSignature(entry);
}
