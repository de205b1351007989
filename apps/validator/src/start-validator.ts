import { availableParallelism } from 'node:os';
import {
  bindSyncMetrics,
  createValidatorApi,
  createValidatorMetrics,
  type ServedApi,
  serveValidatorApi,
  type ValidatorMetrics,
} from '@synddb/http-api';
import { createSyncEngine, type SyncEngine, type SyncStatus } from '@synddb/sync';
import { createVerifierPool, type VerifierPool } from '@synddb/verifier';
import type { Database } from 'better-sqlite3';
import type { ValidatorConfig, ValidatorConfigInput } from './config/config-schema';
import { resolveValidatorConfig } from './config/parse-config';
import { ValidatorStartupError } from './errors';
import { attachSyncLogging } from './log-sync-events';
import { createLogger, type Logger } from './logger';
import { openReplica, type Replica } from './replica';
import { createStorage, resolveSequencerPubkey } from './storage';

export interface StartValidatorOptions {
  /** Default: a logger built from `logJson` / `logLevel`, writing to stdout. */
  logger?: Logger;
  /** Aborts startup (pubkey discovery). */
  signal?: AbortSignal;
}

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
  /** True once the replica has caught up with storage since start. */
  readonly syncedOnce: boolean;
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

  const pubkey = await resolveSequencerPubkey(config, logger, options.signal);
  const storage = createStorage(config, logger);
  const replica = openReplica(config.databasePath);
  // Signature checks run on worker threads next to the applying thread (auto: cores - 1).
  const threads = config.verifyThreads ?? Math.max(0, availableParallelism() - 1);
  const pool = threads > 0 ? createVerifierPool({ size: threads }) : undefined;

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
      ...(pool === undefined ? {} : { pool }),
    });
  } catch (cause) {
    await pool?.close();
    replica.close();
    throw new ValidatorStartupError('cannot create the sync engine', {
      cause,
      details: cause instanceof Error ? cause.message : String(cause),
    });
  }

  const metrics = createValidatorMetrics(undefined, { defaultMetrics: true });
  const unbindMetrics = bindSyncMetrics(engine, metrics);
  const detachLogging = attachSyncLogging(engine, logger);
  let syncedOnce = false;
  engine.on('caughtUp', () => {
    syncedOnce = true;
  });

  const app = createValidatorApi({
    status: () => engine.status(),
    metrics,
    maxLag: config.maxLag,
    syncedOnce: () => syncedOnce,
    onResponse: (r) => {
      if (logger.isEnabled('debug')) logger.debug('http request', { ...r });
    },
  });
  let server: ServedApi;
  try {
    server = await serveValidatorApi(app, { bindAddress: config.bindAddress });
  } catch (error) {
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
    get syncedOnce() {
      return syncedOnce;
    },
    status: () => engine.status(),
    stop() {
      stopping ??= shutdown(engine, server, replica, pool, config, logger, () => {
        detachLogging();
        unbindMetrics();
      });
      return stopping;
    },
  };
}

async function shutdown(
  engine: SyncEngine,
  server: ServedApi,
  replica: Replica,
  pool: VerifierPool | undefined,
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
  await server.close();
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
