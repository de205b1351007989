import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createLogger, type Logger } from '@synddb/app-kit';
import {
  createBridgeReader,
  createRpcProviders,
  createTransactionSubmitter,
  type ValidatorSet,
} from '@synddb/bridge-client';
import { serveValidatorApi } from '@synddb/http-api';
import { Wallet } from 'ethers';
import {
  applicationsOf,
  type RelayerConfig,
  type RelayerConfigInput,
} from './config/config-schema';
import { resolveRelayerConfig } from './config/parse-config';
import { RelayerConfigError, RelayerStartupError } from './errors';
import { createRelayerApi } from './http/create-relayer-api';
import type { JobContext } from './jobs/job-context';
import { startJobRunner } from './jobs/job-runner';
import { createRelayerMetrics, type RelayerMetrics } from './metrics';
import { type JobStore, openJobStore } from './store/job-store';

export interface RelayerHandle {
  /** Base URL of the HTTP API. */
  readonly url: string;
  /** The relayer account. */
  readonly address: string;
  readonly config: RelayerConfig;
  readonly store: JobStore;
  readonly metrics: RelayerMetrics;
  /** Stops the API and the job loop (signed transactions stay journaled), closes the database. */
  stop(): Promise<void>;
}

export interface StartRelayerOptions {
  logger?: Logger;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * The relayer account: the raw key, or the keystore decrypted with the password file's content.
 * An unreadable keystore or a wrong password is a configuration error (exit 2); neither the key
 * nor the password appears in the error.
 */
async function loadWallet(config: RelayerConfig): Promise<Wallet> {
  if (config.privateKey !== undefined) return new Wallet(config.privateKey);
  const problem = (key: 'keystore' | 'keystorePasswordFile', message: string) =>
    new RelayerConfigError([
      {
        key,
        names:
          key === 'keystore'
            ? '--keystore / RELAYER_KEYSTORE'
            : '--keystore-password-file / RELAYER_KEYSTORE_PASSWORD_FILE',
        source: undefined,
        message,
      },
    ]);
  let json: string;
  let password: string;
  try {
    json = readFileSync(config.keystore!, 'utf8');
  } catch (error) {
    throw problem('keystore', `cannot read ${config.keystore}: ${(error as Error).message}`);
  }
  try {
    password = readFileSync(config.keystorePasswordFile!, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw problem(
      'keystorePasswordFile',
      `cannot read ${config.keystorePasswordFile}: ${(error as Error).message}`,
    );
  }
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch {
    throw problem(
      'keystorePasswordFile',
      `cannot decrypt the keystore ${config.keystore} with this password (wrong password, or not a JSON keystore)`,
    );
  }
}

/**
 * Starts `synddb-relayer`: the job database, the chain clients (RPC failover, reader,
 * submitter), the job loop and the HTTP API. Unfinished jobs of a previous run are picked up
 * where they stood; their journaled transactions are resumed before anything new is signed.
 */
export async function startRelayer(
  input: RelayerConfigInput | RelayerConfig,
  options: StartRelayerOptions = {},
): Promise<RelayerHandle> {
  const config = resolveRelayerConfig(input as RelayerConfigInput);
  const logger = options.logger ?? createLogger({ json: config.logJson, level: config.logLevel });
  const now = options.now ?? Date.now;
  const wallet = await loadWallet(config);
  options.signal?.throwIfAborted();

  let store: JobStore;
  try {
    if (config.databasePath !== ':memory:')
      mkdirSync(dirname(config.databasePath), { recursive: true });
    store = openJobStore(config.databasePath, { now });
  } catch (error) {
    throw new RelayerStartupError('Cannot open the job database', {
      details: `${config.databasePath}: ${(error as Error).message}`,
    });
  }
  const metrics = createRelayerMetrics(() => store.countsByState());
  const rpc = createRpcProviders({
    urls: config.rpcUrl!,
    chainId: config.chainId!,
    timeoutMs: config.rpcTimeout,
    onRpcError: (endpoint, error) => {
      metrics.rpcErrors.inc({ endpoint });
      logger.debug('rpc error', { endpoint, error: (error as Error).message?.slice(0, 200) });
    },
  });
  const cleanupOnFailure = () => {
    rpc.destroy();
    store.close();
  };
  try {
    // the chain id each answering endpoint reports must be the configured one
    for (const e of rpc.endpoints) {
      try {
        const reported = BigInt((await e.provider.send('eth_chainId', [])) as string);
        if (reported !== config.chainId) {
          throw new RelayerStartupError('RPC endpoint is on another chain', {
            details: `${e.url} reports chain id ${reported}, CHAIN_ID is ${config.chainId}`,
          });
        }
      } catch (error) {
        if (error instanceof RelayerStartupError) throw error;
        logger.warn('rpc endpoint not answering at startup', { endpoint: e.url });
      }
    }
  } catch (error) {
    cleanupOnFailure();
    throw error;
  }

  const reader = createBridgeReader({
    provider: rpc.provider,
    bridgeAddress: config.bridgeAddress!,
    thresholdModule: config.thresholdModule,
  });
  const submitter = createTransactionSubmitter({
    rpc,
    wallet,
    chainId: config.chainId!,
    maxFeePerGas: config.maxFeePerGas,
    replaceAfterMs: config.txReplaceAfter,
    pollIntervalMs: 250,
    onReplaced: (previous, next) => {
      metrics.replacements.inc();
      logger.info('transaction replaced', {
        nonce: next.nonce,
        previous: previous.hash,
        tx: next.hash,
        maxFeePerGas: next.maxFeePerGas,
      });
    },
    onFeeCapped: (tx, required) => {
      metrics.feeCapPaused.set(1);
      logger.warn('replacement above the fee cap: waiting', { tx: tx.hash, required });
    },
  });
  // nonces of a previous run: live ones are resumed by their jobs, unused ones (gaps) filled first
  submitter.reserveNoncesBelow(store.nextLiveNonce(), store.liveNonces());

  try {
    if (!(await reader.isMessageInitializer(wallet.address))) {
      logger.warn(
        'the relayer account is not a message initializer on the Bridge: withdrawals will fail NotMessageInitializer',
        {
          address: wallet.address,
        },
      );
    }
  } catch {
    // chain not answering: /ready says so
  }

  let cachedSet: { at: number; value: Promise<ValidatorSet> } | undefined;
  const abort = new AbortController();
  const ctx: JobContext = {
    store,
    reader,
    submitter,
    bridgeAddress: config.bridgeAddress!,
    validators: config.validatorUrl ?? [],
    validatorTimeoutMs: config.validatorTimeout,
    pollIntervalMs: config.pollInterval,
    maxBackoffMs: config.maxBackoff,
    metrics,
    logger,
    signal: abort.signal,
    now,
    validatorSet() {
      if (cachedSet === undefined || now() - cachedSet.at > 3000) {
        const value = reader.validatorSet();
        cachedSet = { at: now(), value };
        value.catch(() => {
          cachedSet = undefined;
        });
      }
      return cachedSet.value;
    },
  };

  let balance: bigint | null = null;
  const readBalance = async () => {
    try {
      balance = await submitter.balance();
      metrics.balance.set(Number(balance));
    } catch {
      balance = null;
    }
  };
  await readBalance();
  const balanceTimer = setInterval(() => void readBalance(), 5000);
  balanceTimer.unref();

  const runner = startJobRunner(ctx, { concurrency: config.maxConcurrentJobs, abort });

  const ready = async () => {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      const block = await Promise.race([
        rpc.provider.getBlockNumber(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('timeout')), config.rpcTimeout).unref(),
        ),
      ]);
      checks.rpc = { ok: true, detail: `block ${block}` };
    } catch (error) {
      checks.rpc = {
        ok: false,
        detail: `no RPC endpoint answers: ${(error as Error).message?.slice(0, 120)}`,
      };
    }
    try {
      store.probeWritable();
      checks.database = { ok: true };
    } catch (error) {
      checks.database = { ok: false, detail: (error as Error).message };
    }
    await readBalance();
    checks.balance =
      balance === null
        ? { ok: false, detail: 'balance unknown' }
        : balance >= config.minBalance
          ? { ok: true, detail: `${balance} wei` }
          : { ok: false, detail: `${balance} wei is below the floor of ${config.minBalance} wei` };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };

  const api = createRelayerApi({
    store,
    registry: metrics.registry,
    hasValidators: (config.validatorUrl ?? []).length > 0,
    applications: applicationsOf(config),
    confirmationTimeoutMs: config.txConfirmationTimeoutSecs * 1000,
    maxBodyBytes: config.maxBodyBytes,
    ready,
    onJob: () => runner.wake(),
    now,
  });
  let served: Awaited<ReturnType<typeof serveValidatorApi>>;
  try {
    served = await serveValidatorApi(api, { bindAddress: config.listenAddr });
  } catch (error) {
    await runner.stop();
    clearInterval(balanceTimer);
    cleanupOnFailure();
    throw new RelayerStartupError('Cannot listen on RELAYER_LISTEN_ADDR', { cause: error });
  }
  const counts = store.countsByState();
  logger.info('synddb-relayer started', {
    url: served.url,
    address: wallet.address,
    bridge: config.bridgeAddress,
    chainId: config.chainId,
    validators: (config.validatorUrl ?? []).length,
    rpcEndpoints: rpc.endpoints.map((e) => e.url),
    database: config.databasePath,
    unfinishedJobs:
      counts.received +
      counts.collecting_signatures +
      counts.ready +
      counts.simulated +
      counts.signed +
      counts.broadcast,
  });

  let stopping: Promise<void> | undefined;
  return {
    url: served.url,
    address: wallet.address,
    config,
    store,
    metrics,
    stop() {
      stopping ??= (async () => {
        clearInterval(balanceTimer);
        await served.close();
        const timeout = new Promise<void>((resolve) =>
          setTimeout(resolve, config.shutdownTimeout).unref(),
        );
        await Promise.race([runner.stop(), timeout]);
        rpc.destroy();
        store.close();
        logger.info('synddb-relayer stopped');
      })();
      return stopping;
    },
  };
}
