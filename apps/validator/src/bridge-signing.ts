import { dirname, join, resolve } from 'node:path';
import type { Logger } from '@synddb/app-kit';
import {
  admitWithdrawal,
  type BridgeCompletionFollower,
  type BridgeSignerKey,
  createOutboxSigner,
  createStateAttestationSigner,
  followBridgeCompletions,
  generateSignerKey,
  loadOrCreateSignerKey,
  type OutboxSigner,
  STATE_ATTESTATION_OUTBOX_KIND,
  type StateAttestationJson,
  type StateAttestationSigner,
  signerKeyFromHex,
  stateAttestationOutboxEntry,
  toMessageSignature,
  toStateAttestationJson,
  WithdrawalLedger,
  type WithdrawalRecord,
  type WithdrawalValidator,
  withdrawalValidators,
} from '@synddb/bridge-signer';
import {
  createSignatureApi,
  jsonInteger,
  type MessageSignature,
  type PendingWithdrawalJson,
  type ServedApi,
  serveValidatorApi,
  type ValidatorMetrics,
  type WithdrawalSignatureJson,
} from '@synddb/http-api';
import { MessageType } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import type { StateRootHandler, SyncEngine, WithdrawalHandler } from '@synddb/sync';
import type { ValidatorConfig } from './config/config-schema';
import { withdrawalPolicyOptions } from './config/withdrawal-policy';
import { isInMemory } from './replica';

const ZERO_ADDRESS = `0x${'0'.repeat(40)}`;
/** The pending gauge scans the ledger: refresh it at most this often. */
const PENDING_GAUGE_INTERVAL_MS = 5000;

/**
 * Bridge signer mode (BRIDGE_SIGNER=true). Each synced withdrawal is decided in the transaction
 * that applies it (`withdrawalHandler`): accepted (queued in the replica's outbox), refused by a
 * withdrawal policy, or unsignable; each decision is recorded in the replica. After the commit
 * the queued withdrawals are signed and the signatures stored beside them, so only committed data
 * is ever signed and a restart neither loses nor repeats a signature nor changes a decision. With
 * BRIDGE_RPC_URL the Bridge's completions are followed and signed withdrawals leave the pending
 * lists.
 */
export interface BridgeSigning {
  /** The signer's address (EIP-55): register it in TeeKeyManager as a Validator key. */
  readonly address: string;
  /** For createSyncEngine: decides and records each withdrawal in the apply transaction. */
  readonly withdrawalHandler: WithdrawalHandler;
  /**
   * For createSyncEngine, with STATE_ATTESTATION_INTERVAL > 0: queues a state attestation in the
   * apply transaction every `interval` sequences and at every withdrawal. Undefined when off.
   */
  readonly onStateRoot: StateRootHandler | undefined;
  /** Signs what the outbox already holds, then after every commit; serves the signature API. */
  start(engine: SyncEngine): Promise<{ url: string }>;
  /** Stops signing and following the chain, closes the signature API. Idempotent. */
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

/**
 * Builds bridge signer mode. The withdrawal policies (flags/env and WITHDRAWAL_POLICY_FILE) are
 * read here, so a bad policy fails startup; `custom` validators (an embedder's) run after them.
 */
export function createBridgeSigning(
  config: ValidatorConfig,
  key: BridgeSignerKey,
  metrics: ValidatorMetrics,
  logger: Logger,
  custom: readonly WithdrawalValidator[] = [],
): BridgeSigning {
  const chainId = config.bridgeChainId ?? 0n;
  const bridgeContract = config.bridgeAddress ?? ZERO_ADDRESS;
  const validators = withdrawalValidators(withdrawalPolicyOptions(config), custom);
  let ledger: WithdrawalLedger | undefined;
  let server: ServedApi | undefined;
  let follower: BridgeCompletionFollower | undefined;
  let detach: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  let lastReported = -1n;
  let pendingRefreshed = 0;
  const interval = BigInt(config.stateAttestationInterval);
  /** Set when an apply transaction queued an attestation: sign after the next commit. */
  let attestationQueued = false;
  let lastAttested = -1;
  let attestationSigner: StateAttestationSigner | undefined;

  const ledgerOf = (db: StateStore['db']): WithdrawalLedger => {
    ledger ??= new WithdrawalLedger(db);
    return ledger;
  };

  // The pending count scans the ledger: at most once per interval, the last change caught up by a
  // trailing refresh.
  let pendingTimer: NodeJS.Timeout | undefined;
  const refreshPending = (l: WithdrawalLedger, force = false) => {
    const now = performance.now();
    const wait = PENDING_GAUGE_INTERVAL_MS - (now - pendingRefreshed);
    if (!force && wait > 0) {
      pendingTimer ??= setTimeout(() => {
        pendingTimer = undefined;
        if (closing === undefined) refreshPending(l, true);
      }, wait).unref();
      return;
    }
    pendingRefreshed = now;
    metrics.withdrawalsPending.set(l.pendingCount());
  };

  /** Logs and counts the decisions committed since the last report (never re-reports after a restart). */
  const reportDecisions = (l: WithdrawalLedger) => {
    for (;;) {
      const records = l.recordedAfter(lastReported, 1000);
      for (const r of records) {
        lastReported = r.sequence;
        metrics.withdrawalsRecorded.inc({ status: r.status });
        const fields = {
          sequence: r.sequence,
          requestId: r.requestId.slice(0, 200),
          messageId: r.messageId,
          recipient: r.recipient,
          amount: r.amount,
          policy: r.policy,
          reason: r.reason,
        };
        if (r.status === 'refused') {
          metrics.withdrawalsRefused.inc({ policy: r.policy ?? 'unknown' });
          logger.warn('withdrawal refused by a withdrawal policy: it is not signed', fields);
        } else if (r.status === 'unsignable') {
          metrics.withdrawalsUnsignable.inc({ reason: r.policy ?? 'unknown' });
          logger.warn('withdrawal is unsignable: the Bridge could never accept it', fields);
        }
      }
      if (records.length < 1000) return;
    }
  };

  const signRound = (signer: OutboxSigner, l: WithdrawalLedger): void => {
    const { failed } = signer.signPending();
    metrics.withdrawalsUnsigned.set(failed);
    reportDecisions(l);
    refreshPending(l);
  };

  const onStateRoot: StateRootHandler | undefined =
    interval === 0n
      ? undefined
      : ({ sequence, messageType, messageHash, stateRoot, state }) => {
          if (sequence % interval !== 0n && messageType !== MessageType.Withdrawal) return;
          state.enqueue(
            stateAttestationOutboxEntry({ sequence, stateRoot: stateRoot(), messageHash }),
          );
          attestationQueued = true;
        };

  const signAttestations = () => {
    if (attestationSigner === undefined) return;
    attestationQueued = false;
    const { signed, failed } = attestationSigner.signPending();
    metrics.stateAttestationsUnsigned.set(failed);
    if (signed > 0 || failed > 0) logger.debug('state attestations signed', { signed, failed });
  };

  return {
    address: key.address,
    onStateRoot,
    withdrawalHandler: ({ sequence, timestamp, request, state }) => {
      admitWithdrawal({
        state,
        ledger: ledgerOf(state.db),
        validators,
        sequence,
        timestamp,
        request,
      });
    },
    async start(engine) {
      const state: StateStore = engine.state;
      const l = ledgerOf(state.db);
      // Decisions recorded before this start were reported then; the gauge counts them all.
      lastReported = l.lastSequence();
      for (const status of ['accepted', 'refused', 'unsignable'] as const) {
        metrics.withdrawalsRecorded.set({ status }, 0);
      }
      for (const c of l.counts()) metrics.withdrawalsRecorded.inc({ status: c.status }, c.count);
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
      signRound(signer, l);
      refreshPending(l, true);
      if (onStateRoot !== undefined) {
        attestationSigner = await createStateAttestationSigner({
          state,
          key,
          domain: { chainId, verifyingContract: bridgeContract },
          onSigned: (e) => {
            metrics.stateAttestationsSigned.inc();
            // Signed in sequence order within a round; a retried older one never lowers it.
            const last = metrics.stateAttestationSequence;
            if (Number(e.sequence) > lastAttested) {
              lastAttested = Number(e.sequence);
              last.set(lastAttested);
            }
          },
          onError: (e) => {
            metrics.stateAttestationSigningErrors.inc();
            logger.error('cannot sign a state attestation; it stays queued', {
              sequence: e.sequence,
              error: e.error,
            });
          },
        });
        // attestations committed before a crash or a stop, not yet signed
        signAttestations();
      }
      const onCommitted = (e: { byType: Record<string, number> }) => {
        if ((e.byType.withdrawal ?? 0) > 0) signRound(signer, l);
        if (attestationQueued) signAttestations();
      };
      engine.on('messagesCommitted', onCommitted);
      detach = () => engine.off('messagesCommitted', onCommitted);

      const app = createSignatureApi({
        info: () => ({ signer: key.address, bridgeContract, chainId }),
        get: (messageId) => signatureOf(state, messageId),
        list: (limit, offset) =>
          l
            .pending(limit, offset)
            .map(messageSignatureOf)
            .filter((s): s is MessageSignature => s !== null),
        count: () => l.pendingCount(),
        withdrawals: (requestId, messageId, limit) =>
          l.find(requestId, messageId, limit).map(withdrawalJson),
        pendingWithdrawals: {
          list: (limit, offset) => l.pending(limit, offset).map(pendingJson),
          count: () => l.pendingCount(),
        },
        refusedWithdrawals: {
          list: (limit, offset) => l.refused(limit, offset).map(withdrawalJson),
          count: () => l.refusedCount(),
        },
        ...(onStateRoot === undefined
          ? {}
          : {
              stateAttestations: (sequence: bigint) =>
                state
                  .signedAt(sequence, STATE_ATTESTATION_OUTBOX_KIND)
                  .map(toStateAttestationJson)
                  .filter((a): a is StateAttestationJson => a !== null),
            }),
        onResponse: (r) => {
          if (logger.isEnabled('debug')) logger.debug('signature api request', { ...r });
        },
      });
      server = await serveValidatorApi(app, { bindAddress: config.bridgeSignatureEndpoint });

      if (config.bridgeRpcUrl !== undefined && config.bridgeAddress !== undefined) {
        const endpoint = new URL(config.bridgeRpcUrl).origin; // never log a path or query (keys)
        follower = followBridgeCompletions({
          ledger: l,
          rpcUrl: config.bridgeRpcUrl,
          bridge: config.bridgeAddress,
          chainId,
          confirmations: config.bridgeConfirmations,
          startBlock: config.bridgeStartBlock,
          maxBlockRange: config.bridgeLogRange,
          pollIntervalMs: Math.max(1, config.bridgePollInterval),
          onProgress: (e) => {
            metrics.bridgeBlock.set(Number(e.blockNumber));
            if (e.completed.length === 0) return;
            metrics.withdrawalsProcessed.inc(e.completed.length);
            refreshPending(l, true);
            logger.info('withdrawals completed on the Bridge', {
              count: e.completed.length,
              block: e.blockNumber,
              messageIds: e.completed.slice(0, 20),
            });
          },
          onError: (error) => {
            metrics.bridgeRpcErrors.inc();
            logger.warn('cannot follow the Bridge; retrying', { endpoint, error });
          },
        });
        follower.start();
        logger.info('following the Bridge', {
          endpoint,
          bridge: config.bridgeAddress,
          confirmations: config.bridgeConfirmations,
          cursor: l.chainCursor()?.blockNumber,
        });
      }
      logger.info('bridge signer started', {
        address: key.address,
        signatureApi: server.url,
        chainId: chainId.toString(),
        bridgeContract,
        policies: validators.map((v) => v.name),
        stateAttestationInterval: config.stateAttestationInterval,
        signed: state.signedCount(),
        pending: l.pendingCount(),
        refused: l.refusedCount(),
      });
      return { url: server.url };
    },
    close() {
      closing ??= (async () => {
        detach?.();
        if (pendingTimer !== undefined) clearTimeout(pendingTimer);
        await follower?.close();
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

function messageSignatureOf(r: WithdrawalRecord): MessageSignature | null {
  if (r.messageId === null || r.signature === null || r.signer === null || r.signedAt === null) {
    return null;
  }
  return {
    message_id: r.messageId,
    signature: r.signature.toLowerCase(),
    signer: r.signer.toLowerCase(),
    signed_at: Math.floor(r.signedAt / 1000),
  };
}

function withdrawalJson(r: WithdrawalRecord): WithdrawalSignatureJson {
  return {
    request_id: r.requestId,
    message_id: r.messageId,
    recipient: r.recipient,
    amount: r.amount,
    sequence: jsonInteger(r.sequence),
    status: r.status,
    signature: r.signature?.toLowerCase() ?? null,
    signer: r.signer?.toLowerCase() ?? null,
    signed_at: r.signedAt === null ? null : Math.floor(r.signedAt / 1000),
    policy: r.policy,
    reason: r.reason,
    completed:
      r.completed === null
        ? null
        : {
            block_number: jsonInteger(r.completed.blockNumber),
            transaction_hash: r.completed.transactionHash,
          },
  };
}

function pendingJson(r: WithdrawalRecord): PendingWithdrawalJson {
  return {
    message_id: r.messageId ?? '',
    request_id: r.requestId,
    recipient: r.recipient,
    amount: r.amount,
    sequence: jsonInteger(r.sequence),
    signed_at: r.signedAt === null ? 0 : Math.floor(r.signedAt / 1000),
  };
}
