import { availableParallelism } from 'node:os';
import { createLogger, type Logger, niceV8BackgroundThreads } from '@synddb/app-kit';
import { stateRootKernel } from '@synddb/applier';
import type { WithdrawalValidator } from '@synddb/bridge-signer';
import {
  bindSyncMetrics,
  createHttpMetrics,
  createValidatorMetrics,
  createWsMetrics,
  type ValidatorMetrics,
} from '@synddb/http-api';
import { createQueryMetrics, hasSqliteAuthorizer } from '@synddb/query';
import {
  createPreparePool,
  createSyncEngine,
  type PreparePool,
  type SyncEngine,
  type SyncStatus,
  type ValidationRule,
} from '@synddb/sync';
import type { Database } from 'better-sqlite3';
import { Registry } from 'prom-client';
import {
  type ApiHost,
  startApiThread,
  type ValidatorQueries,
  type ValidatorSubscriptions,
} from './api-host';
import type { ApiThreadSettings } from './api-protocol';
import { type BridgeSigning, createBridgeSigning, resolveBridgeSignerKey } from './bridge-signing';
import type { ValidatorConfig, ValidatorConfigInput } from './config/config-schema';
import { resolveValidatorConfig } from './config/parse-config';
import { ValidatorStartupError } from './errors';
import { attachSyncLogging } from './log-sync-events';
import { isInMemory, openReplica, type Replica } from './replica';
import { registerUpdateResolverMetrics } from './state-root-metrics';
import { createStorage, resolveSequencerPubkey } from './storage';
import { currentV8PoolSize } from './v8-pool';
import { createValidationRules } from './validation-rules';

export interface StartValidatorOptions {
  /** Default: a logger built from `logJson` / `logLevel`, writing to stdout. */
  logger?: Logger;
  /** Aborts startup (pubkey discovery). */
  signal?: AbortSignal;
  /**
   * Bridge signer mode: withdrawal validators of your own, run after the built-in policies inside
   * the apply transaction (synchronous and deterministic: see `WithdrawalValidator`).
   */
  withdrawalValidators?: readonly WithdrawalValidator[];
  /**
   * Invariant rules of your own, checked after the SQL rules of `RULES_FILE` on every changeset
   * message before it commits (synchronous, read-only and deterministic: see `ValidationRule`).
   */
  validationRules?: readonly ValidationRule[];
}

export interface ValidatorHandle {
  /** Base URL of the main API, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly config: ValidatorConfig;
  readonly engine: SyncEngine;
  /**
   * The main thread's metrics: sync, bridge signing, invariant rules, process. The query,
   * WebSocket and HTTP members are recorded by the API thread in its own registry (here they are
   * detached); `/metrics` serves both registries.
   */
  readonly metrics: ValidatorMetrics;
  /** The replica's writer connection (owned by the engine; do not write). */
  readonly db: Database;
  /** Read-only connection to the replica; null for `:memory:`. */
  readonly readDb: Database | null;
  /**
   * Read queries (worker processes of the API thread); null when QUERY_WORKERS=0 or the replica
   * is `:memory:`.
   */
  readonly query: ValidatorQueries | null;
  /** WebSocket subscriptions at `/ws` (API thread); undefined when off (`WS_MAX_CLIENTS=0`). */
  readonly subscriptions: ValidatorSubscriptions | undefined;
  /** True once the replica has caught up with storage since start. */
  readonly syncedOnce: boolean;
  /** Bridge signer mode: the signer's address and the signature API's URL; null when off. */
  readonly bridge: { readonly address: string; readonly url: string } | null;
  status(): SyncStatus;
  /**
   * Stops the engine (waiting up to `shutdownTimeout`), closes the server and the database.
   * Idempotent. Rejects only if the engine did not stop in time; everything is closed either way.
   */
  stop(): Promise<void>;
}

/**
 * Runs a validator in this process: resolves the sequencer key, opens the replica, builds the
 * fetcher and the sync engine (on this thread), serves the API on `bindAddress` from its own
 * worker thread (api-thread.ts: no read waits for an apply slice), and starts syncing.
 */
export async function startValidator(
  input: ValidatorConfigInput | ValidatorConfig,
  options: StartValidatorOptions = {},
): Promise<ValidatorHandle> {
  const config = resolveValidatorConfig(input);
  const logger = options.logger ?? createLogger({ json: config.logJson, level: config.logLevel });
  warnAboutIgnoredOptions(config, logger);
  const background = niceV8BackgroundThreads(config.v8BackgroundNiceness);

  // This thread's registry: sync, bridge signing, rules, process. Queries, WebSocket and HTTP are
  // recorded by the API thread, which merges this registry into its /metrics.
  const metrics = mainThreadMetrics();
  // The key is loaded before anything is opened: a bad key file fails fast, nothing to close.
  let bridge: BridgeSigning | undefined;
  try {
    if (config.bridgeSigner) {
      bridge = createBridgeSigning(
        config,
        resolveBridgeSignerKey(config, logger),
        metrics,
        logger,
        options.withdrawalValidators,
      );
    }
  } catch (cause) {
    throw new ValidatorStartupError('cannot load the bridge signer key or withdrawal policies', {
      cause,
    });
  }

  const pubkey = await resolveSequencerPubkey(config, logger, options.signal);
  const storage = await createStorage(config, logger);
  const replica = openReplica(config.databasePath);
  let rules: ValidationRule[];
  try {
    rules = createValidationRules(
      config,
      replica.db,
      metrics.registry,
      logger,
      options.validationRules,
    );
  } catch (cause) {
    replica.close();
    throw new ValidatorStartupError('cannot load the invariant rules', { cause });
  }
  // Batches are decompressed, decoded and verified on worker threads next to the applying
  // thread (auto: cores - 1), so applying is all the main thread does while catching up.
  const threads = config.verifyThreads ?? Math.max(0, availableParallelism() - 1);
  const pool = threads > 0 ? createPreparePool({ size: threads }) : undefined;
  await pool?.ready();

  let engine: SyncEngine;
  try {
    engine = createSyncEngine({
      db: replica.db,
      databasePath: config.databasePath,
      fetcher: storage.fetcher,
      sequencerPubkeys: [pubkey],
      startSequence: config.startSequence,
      batchSync: config.batchSyncEnabled,
      syncIntervalMs: config.syncInterval,
      indexRefreshIntervalMs: config.batchIndexRefreshInterval,
      gapRetryCount: config.gapRetryCount,
      gapRetryDelayMs: config.gapRetryDelay,
      gapSkipOnFailure: config.gapSkipOnFailure,
      prefetchBatches: config.prefetchBatches,
      maxMessagesPerTransaction: config.maxMessagesPerTransaction,
      maxDecompressedBatchBytes: config.maxBatchBytes,
      maxSnapshotBytes: config.maxSnapshotBytes,
      ...(config.maxSnapshotBatchBytes === undefined
        ? {}
        : { maxSnapshotBatchBytes: config.maxSnapshotBatchBytes }),
      progressIntervalMs: config.progressInterval,
      maxCommitMs: config.maxCommitTime,
      ...(pool === undefined ? {} : { preparePool: pool }),
      ...(bridge === undefined ? {} : { withdrawalHandler: bridge.withdrawalHandler }),
      ...(bridge?.onStateRoot === undefined ? {} : { onStateRoot: bridge.onStateRoot }),
      ...(rules.length === 0 ? {} : { rules }),
    });
  } catch (cause) {
    await pool?.close();
    replica.close();
    throw new ValidatorStartupError('cannot create the sync engine', { cause });
  }

  const unbindMetrics = bindSyncMetrics(engine, metrics);
  const resolver = engine.stateRoot?.resolver;
  if (resolver !== undefined) registerUpdateResolverMetrics(metrics.registry, resolver);
  const detachLogging = attachSyncLogging(engine, logger);
  let syncedOnce = false;
  engine.on('caughtUp', () => {
    syncedOnce = true;
  });

  let api: ApiHost | undefined;
  let bridgeUrl: string | undefined;
  try {
    api = await startApiThread({
      settings: await apiThreadSettings(config, logger),
      engine,
      metrics,
      logger,
      syncedOnce: () => syncedOnce,
      db: replica.db,
      maxInFlightBytes: config.wsMaxTotalBuffered,
    });
    bridgeUrl = (await bridge?.start(engine))?.url;
  } catch (error) {
    await bridge?.close();
    await api?.close();
    detachLogging();
    unbindMetrics();
    await pool?.close();
    replica.close();
    throw error;
  }

  const cursor = engine.status();
  logger.info('synddb-validator started', {
    url: api.url,
    storage: storage.description,
    database: config.databasePath,
    lastSequence: cursor.lastSequence,
    nextSequence: cursor.nextSequence,
    mode: config.batchSyncEnabled ? 'batch' : 'single-message',
    verifyThreads: pool?.size ?? 0,
    queryWorkers: api.query?.limits.workers ?? 0,
    bridgeSigner: bridge?.address ?? false,
    ...stateRootFields(engine.stateRoot !== undefined),
    v8PoolSize: currentV8PoolSize(),
    v8BackgroundNiceness: background.threads > 0 ? config.v8BackgroundNiceness : 0,
    ...(background.note === undefined ? {} : { v8BackgroundNote: background.note }),
  });
  engine.start();

  let stopping: Promise<void> | undefined;
  const served = api;
  return {
    url: served.url,
    config,
    engine,
    metrics,
    db: replica.db,
    readDb: replica.readDb,
    query: served.query,
    subscriptions: served.subscriptions,
    get syncedOnce() {
      return syncedOnce;
    },
    bridge:
      bridge === undefined || bridgeUrl === undefined
        ? null
        : { address: bridge.address, url: bridgeUrl },
    status: () => engine.status(),
    stop() {
      stopping ??= shutdown(engine, served, bridge, replica, pool, config, logger, () => {
        detachLogging();
        unbindMetrics();
      });
      return stopping;
    },
  };
}

async function shutdown(
  engine: SyncEngine,
  api: ApiHost,
  bridge: BridgeSigning | undefined,
  replica: Replica,
  pool: PreparePool | undefined,
  config: ValidatorConfig,
  logger: Logger,
  detach: () => void,
): Promise<void> {
  const started = performance.now();
  let failure: unknown;
  try {
    await engine.stop({ timeoutMs: config.shutdownTimeout });
  } catch (error) {
    failure = error;
    logger.error('sync engine did not stop in time', { error: error as Error });
  }
  await bridge?.close();
  // The API thread: subscriptions, server, query workers.
  await api.close();
  const last = safeStatus(engine);
  detach();
  await pool?.close();
  replica.close();
  logger.info('synddb-validator stopped', {
    lastSequence: last?.lastSequence,
    ms: Math.round(performance.now() - started),
  });
  if (failure !== undefined) throw failure;
}

/**
 * What the API thread needs of the configuration. Queries are off (null) when QUERY_WORKERS=0,
 * for a `:memory:` replica (workers cannot open it) and without node:sqlite's authorizer.
 */
async function apiThreadSettings(
  config: ValidatorConfig,
  logger: Logger,
): Promise<ApiThreadSettings> {
  let queries = config.queryWorkers > 0;
  if (queries && isInMemory(config.databasePath)) {
    logger.warn('read queries are off: a :memory: replica cannot be opened by query workers');
    queries = false;
  } else if (queries && !(await hasSqliteAuthorizer())) {
    logger.warn(
      `read queries are off: they need node:sqlite's authorizer (Node >= 24.10), this is Node ${process.versions.node}; set QUERY_WORKERS=0 to silence this`,
    );
    queries = false;
  }
  return {
    bindAddress: config.bindAddress,
    databasePath: config.databasePath,
    maxLag: config.maxLag === undefined ? undefined : BigInt(config.maxLag),
    query: queries
      ? {
          workers: config.queryWorkers,
          maxRows: config.queryMaxRows,
          maxBytes: config.queryMaxBytes,
          timeoutMs: config.queryTimeout,
          minSequenceMaxWaitMs: config.minSequenceMaxWait,
          maxInFlightPerClient: config.queryMaxInFlightPerClient,
          interruptFloorMs: config.queryInterruptFloor,
          pointReads: config.queryPointReads,
        }
      : null,
    rateLimit: config.rateLimit,
    rateLimitBurst: config.rateLimitBurst,
    maxConnections: config.maxConnections === 0 ? 1_000_000_000 : (config.maxConnections ?? 'auto'),
    reservedFds: config.reservedFds,
    maxConnectionsPerClient: config.maxConnectionsPerClient,
    maxOutputPerClient: config.maxOutputPerClient,
    maxOutputTotal: config.maxOutputTotal,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    idleTimeoutMs: config.idleTimeout,
    ws:
      config.wsMaxClients === 0
        ? null
        : {
            maxClients: config.wsMaxClients,
            maxQueue: config.wsMaxQueue,
            maxClientsPerAddress: config.wsMaxClientsPerAddress,
            maxTotalBuffered: config.wsMaxTotalBuffered,
          },
    logLevel: config.logLevel,
  };
}

/**
 * The validator's metrics object whose registry holds only what this thread records (process,
 * sync, signing): the query, WebSocket and HTTP metrics live in the API thread's registry, and
 * two registries with the same names could not be served together.
 */
function mainThreadMetrics(): ValidatorMetrics {
  const metrics = createValidatorMetrics(undefined, { defaultMetrics: true });
  const elsewhere = new Registry();
  createQueryMetrics(elsewhere);
  createWsMetrics(elsewhere);
  createHttpMetrics(elsewhere);
  for (const metric of elsewhere.getMetricsAsArray()) {
    metrics.registry.removeSingleMetric(metric.name);
  }
  return metrics;
}

function safeStatus(engine: SyncEngine): SyncStatus | undefined {
  try {
    return engine.status();
  } catch {
    return undefined;
  }
}

function warnAboutIgnoredOptions(config: ValidatorConfig, logger: Logger): void {
  if (config.stateDbPath !== undefined) {
    logger.warn(
      'STATE_DB_PATH is ignored: sync progress is stored in the replica (DATABASE_PATH)',
      {
        stateDbPath: config.stateDbPath,
      },
    );
  }
  if (config.pendingChangesetsDbPath !== undefined) {
    logger.warn(
      'PENDING_CHANGESETS_DB_PATH is ignored: nothing is deferred, schema mismatches halt',
    );
  }
  if (config.otelEnabled) logger.warn('OTEL_ENABLED is not supported yet and is ignored');
}

/**
 * The start-up line's state root fields: the BLAKE3 kernel that hashes its elements (`avx512`,
 * `avx2`: the native addon; `wasm`), and why it is not native when it is not (the addon is missing
 * or does not load, another platform): an operator sees at once that catch-up pays the slower one.
 */
function stateRootFields(kept: boolean): Record<string, string | boolean> {
  if (!kept) return { stateRoot: false };
  const k = stateRootKernel();
  return {
    stateRootKernel: k.kernel,
    ...(k.nativeUnavailable === undefined ? {} : { stateRootKernelNote: k.nativeUnavailable }),
  };
}
