import { availableParallelism } from 'node:os';
import { createLogger, type Logger } from '@synddb/app-kit';
import type { WithdrawalValidator } from '@synddb/bridge-signer';
import {
  attachSubscriptions,
  bindSyncMetrics,
  createConnectionLimits,
  createRateLimiter,
  createValidatorApi,
  createValidatorMetrics,
  type ServedApi,
  type Subscriptions,
  serveValidatorApi,
  type ValidatorMetrics,
} from '@synddb/http-api';
import {
  createQueryService,
  hasSqliteAuthorizer,
  type QueryMetrics,
  type QueryService,
  sequenceSourceFromEngine,
} from '@synddb/query';
import {
  createPreparePool,
  createSyncEngine,
  type PreparePool,
  type SyncEngine,
  type SyncStatus,
  type ValidationRule,
} from '@synddb/sync';
import type { Database } from 'better-sqlite3';
import { type BridgeSigning, createBridgeSigning, resolveBridgeSignerKey } from './bridge-signing';
import type { ValidatorConfig, ValidatorConfigInput } from './config/config-schema';
import { resolveValidatorConfig } from './config/parse-config';
import { ValidatorStartupError } from './errors';
import { attachSyncLogging } from './log-sync-events';
import { isInMemory, openReplica, type Replica } from './replica';
import { createStorage, resolveSequencerPubkey } from './storage';
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

/** How long a refused (429) API request waits before its answer (see @synddb/http-api's refusalDelay). */
const REFUSAL_DELAY_MS = 1000;

export interface ValidatorHandle {
  /** Base URL of the main API, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly config: ValidatorConfig;
  readonly engine: SyncEngine;
  readonly metrics: ValidatorMetrics;
  /** The replica's writer connection (owned by the engine; do not write). */
  readonly db: Database;
  /** Read-only connection to the replica; null for `:memory:`. */
  readonly readDb: Database | null;
  /** Read queries (worker processes); null when QUERY_WORKERS=0 or the replica is `:memory:`. */
  readonly query: QueryService | null;
  /** WebSocket subscriptions at `/ws`; undefined when turned off (`WS_MAX_CLIENTS=0`). */
  readonly subscriptions: Subscriptions | undefined;
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
 * fetcher and the sync engine, serves the API on `bindAddress`, and starts syncing.
 */
export async function startValidator(
  input: ValidatorConfigInput | ValidatorConfig,
  options: StartValidatorOptions = {},
): Promise<ValidatorHandle> {
  const config = resolveValidatorConfig(input);
  const logger = options.logger ?? createLogger({ json: config.logJson, level: config.logLevel });
  warnAboutIgnoredOptions(config, logger);

  // One registry for every component: sync, bridge signing, queries, WebSocket, HTTP.
  const metrics = createValidatorMetrics(undefined, { defaultMetrics: true });
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
  const detachLogging = attachSyncLogging(engine, logger);
  let syncedOnce = false;
  engine.on('caughtUp', () => {
    syncedOnce = true;
  });

  let query: QueryService | undefined;
  let server: ServedApi | undefined;
  let subscriptions: Subscriptions | undefined;
  let bridgeUrl: string | undefined;
  try {
    query = await startQueryService(config, engine, metrics, logger);
    // Limits against hostile clients (issue 13): one rate limiter for HTTP routes, JSON-RPC batch
    // members and WebSocket upgrades; connection caps below the descriptor limit.
    const rateLimit = createRateLimiter({
      ratePerSecond: config.rateLimit,
      burst: config.rateLimitBurst,
    });
    const connectionLimits = createConnectionLimits({
      maxConnections:
        config.maxConnections === 0 ? 1_000_000_000 : (config.maxConnections ?? 'auto'),
      reservedDescriptors: config.reservedFds,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      maxOutputPerClient: config.maxOutputPerClient,
      maxOutputTotal: config.maxOutputTotal,
    });
    logger.info('connection limits', {
      maxConnections: connectionLimits.maxConnections,
      perClient: connectionLimits.maxConnectionsPerClient,
    });
    const app = createValidatorApi({
      status: () => engine.status(),
      metrics,
      maxLag: config.maxLag,
      syncedOnce: () => syncedOnce,
      query,
      rateLimit,
      connectionLimits,
      // Refusals (429) wait up to a second: clients that re-send at once cannot flood this thread.
      refusalDelayMs: REFUSAL_DELAY_MS,
      maxBodyBytes: config.maxBodyBytes,
      corsOrigins: config.corsOrigins,
      onResponse: (r) => {
        if (logger.isEnabled('debug')) logger.debug('http request', { ...r });
      },
    });
    server = await serveValidatorApi(app, {
      bindAddress: config.bindAddress,
      connectionLimits,
      idleTimeoutMs: config.idleTimeout,
    });
    subscriptions =
      config.wsMaxClients === 0
        ? undefined
        : attachSubscriptions(server.server as Parameters<typeof attachSubscriptions>[0], {
            engine,
            // column names for row changes (the writer connection for :memory: replicas)
            replica: replica.readDb ?? replica.db,
            maxClients: config.wsMaxClients,
            maxQueue: config.wsMaxQueue,
            maxClientsPerAddress: config.wsMaxClientsPerAddress,
            maxTotalBufferedBytes: config.wsMaxTotalBuffered,
            rateLimit,
            metrics,
            logger: {
              debug: (message, fields) => logger.debug(message, fields),
              warn: (message, fields) => logger.warn(message, fields),
            },
          });
    bridgeUrl = (await bridge?.start(engine))?.url;
  } catch (error) {
    await bridge?.close();
    await server?.close();
    await query?.close();
    detachLogging();
    unbindMetrics();
    await pool?.close();
    replica.close();
    throw error;
  }

  const cursor = engine.status();
  logger.info('synddb-validator started', {
    url: server.url,
    storage: storage.description,
    database: config.databasePath,
    lastSequence: cursor.lastSequence,
    nextSequence: cursor.nextSequence,
    mode: config.batchSyncEnabled ? 'batch' : 'single-message',
    verifyThreads: pool?.size ?? 0,
    queryWorkers: query?.limits.workers ?? 0,
    bridgeSigner: bridge?.address ?? false,
  });
  engine.start();

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    config,
    engine,
    metrics,
    db: replica.db,
    readDb: replica.readDb,
    query: query ?? null,
    subscriptions,
    get syncedOnce() {
      return syncedOnce;
    },
    bridge:
      bridge === undefined || bridgeUrl === undefined
        ? null
        : { address: bridge.address, url: bridgeUrl },
    status: () => engine.status(),
    stop() {
      stopping ??= shutdown(
        engine,
        server,
        { query, subscriptions, bridge },
        replica,
        pool,
        config,
        logger,
        () => {
          detachLogging();
          unbindMetrics();
        },
      );
      return stopping;
    },
  };
}

async function shutdown(
  engine: SyncEngine,
  server: ServedApi,
  api: {
    query: QueryService | undefined;
    subscriptions: Subscriptions | undefined;
    bridge: BridgeSigning | undefined;
  },
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
  await api.bridge?.close();
  // Upgraded sockets would keep server.close() waiting: close the subscriptions first.
  await api.subscriptions?.close();
  await server.close();
  await api.query?.close();
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

/** Starts the query workers (each opens the replica read-only), or none when queries are off. */
async function startQueryService(
  config: ValidatorConfig,
  engine: SyncEngine,
  metrics: QueryMetrics,
  logger: Logger,
): Promise<QueryService | undefined> {
  if (config.queryWorkers === 0) return undefined;
  if (isInMemory(config.databasePath)) {
    logger.warn('read queries are off: a :memory: replica cannot be opened by query workers');
    return undefined;
  }
  if (!(await hasSqliteAuthorizer())) {
    logger.warn(
      `read queries are off: they need node:sqlite's authorizer (Node >= 24.10), this is Node ${process.versions.node}; set QUERY_WORKERS=0 to silence this`,
    );
    return undefined;
  }
  let service: QueryService | undefined;
  try {
    service = createQueryService({
      databasePath: config.databasePath,
      workers: config.queryWorkers,
      maxRows: config.queryMaxRows,
      maxBytes: config.queryMaxBytes,
      timeoutMs: config.queryTimeout,
      minSequenceMaxWaitMs: config.minSequenceMaxWait,
      maxInFlightPerClient: config.queryMaxInFlightPerClient,
      interruptFloorMs: config.queryInterruptFloor,
      sequence: sequenceSourceFromEngine(engine),
      metrics,
      onWorkerExit: (info) =>
        info.reason === 'spawn_failed'
          ? logger.error('query worker cannot be started; retrying', { ...info })
          : logger.warn('query worker replaced', { ...info }),
    });
    await service.ready();
    return service;
  } catch (cause) {
    await service?.close();
    throw new ValidatorStartupError('cannot start the query workers', { cause });
  }
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
