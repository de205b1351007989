import type { Logger } from '@synddb/app-kit';
import {
  createFallbackFetcher,
  createFsFetcher,
  createHttpFetcher,
  fetchSequencerStatus,
  type StorageFetcher,
} from '@synddb/fetchers';
import { parseSequencerPubkey } from '@synddb/verifier';
import type { ValidatorConfig } from './config/config-schema';
import { ValidatorConfigError, ValidatorStartupError } from './errors';

export interface ConfiguredStorage {
  fetcher: StorageFetcher;
  /** e.g. `gcs gs://bucket/sequencer, fallback http http://...`. */
  description: string;
}

/**
 * GCS when a bucket is configured, else the local directory, else the sequencer's HTTP API (or
 * whatever FETCHER_TYPE names). With GCS or a directory, SEQUENCER_URL becomes a fallback source.
 * Async because the GCS adapter (`@synddb/fetchers/gcs`, with the Google Cloud Storage SDK: ~0.2 s
 * and ~35 MB to load) is imported only when GCS is the configured store.
 */
export async function createStorage(
  config: ValidatorConfig,
  logger: Logger,
): Promise<ConfiguredStorage> {
  const kind =
    config.fetcherType !== 'auto'
      ? config.fetcherType
      : config.gcsBucket !== undefined
        ? 'gcs'
        : config.storageDir !== undefined
          ? 'fs'
          : 'http';
  // One transport policy for every network store: the same per-attempt timeout (which also
  // aborts stalled or trickling bodies) and the same retries for the sequencer's API and GCS.
  const transport = {
    timeoutMs: config.httpFetcherTimeout,
    maxRetries: config.httpFetcherMaxRetries,
  };
  const http = () =>
    createHttpFetcher({
      baseUrl: config.sequencerUrl!,
      ...transport,
      maxBatchBytes: config.maxCompressedBatchBytes,
    });
  const gcs = kind === 'gcs' ? await import('@synddb/fetchers/gcs') : undefined;
  try {
    if (kind === 'http') {
      return { fetcher: http(), description: `http ${config.sequencerUrl}` };
    }
    const primary =
      gcs !== undefined
        ? gcs.createGcsFetcher({
            bucket: config.gcsBucket!,
            prefix: config.gcsPrefix,
            ...(config.gcsStorageEmulatorHost !== undefined
              ? { emulatorHost: emulatorUrl(config.gcsStorageEmulatorHost) }
              : {}),
            maxBatchBytes: config.maxCompressedBatchBytes,
            maxDecompressedBytes: config.maxBatchBytes,
            ...transport,
          })
        : createFsFetcher({
            directory: config.storageDir!,
            prefix: config.gcsPrefix,
            maxBatchBytes: config.maxCompressedBatchBytes,
            maxDecompressedBytes: config.maxBatchBytes,
          });
    const where =
      kind === 'gcs'
        ? `gcs gs://${config.gcsBucket}/${config.gcsPrefix}`
        : `fs ${config.storageDir} (prefix ${config.gcsPrefix})`;
    if (config.sequencerUrl === undefined) return { fetcher: primary, description: where };
    return {
      fetcher: createFallbackFetcher([primary, http()], {
        onFailover: ({ operation, kind: source, error }) =>
          logger.warn('storage source failed, trying the next one', {
            operation,
            source,
            error: error instanceof Error ? error : String(error),
          }),
      }),
      description: `${where}, fallback http ${config.sequencerUrl}`,
    };
  } catch (error) {
    if (isFetcherConfigError(error)) {
      throw new ValidatorConfigError([
        {
          key: 'fetcherType',
          names: `storage (${kind})`,
          source: undefined,
          message: error.message,
        },
      ]);
    }
    throw error;
  }
}

/**
 * By code, not `instanceof`: in the CommonJS build the GCS adapter comes through `import()`, i.e.
 * from the ESM copy of @synddb/fetchers, whose `FetcherConfigError` is another class object.
 */
function isFetcherConfigError(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === 'FETCHER_CONFIG';
}

/** `GCS_STORAGE_EMULATOR_HOST` is often `host:port` without a scheme (fake-gcs-server docs). */
function emulatorUrl(host: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `http://${host}`;
}

/**
 * The trusted key: SEQUENCER_PUBKEY, or the key the sequencer reports at `/status` (trust on first
 * use, like the reference, with a loud warning: whoever answers that request picks the key).
 */
export async function resolveSequencerPubkey(
  config: ValidatorConfig,
  logger: Logger,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (config.sequencerPubkey !== undefined) return config.sequencerPubkey;
  const url = config.sequencerUrl!;
  let pubkey: Uint8Array;
  let address: string;
  try {
    const status = await fetchSequencerStatus(url, {
      timeoutMs: config.httpFetcherTimeout,
      maxRetries: config.httpFetcherMaxRetries,
      ...(signal !== undefined ? { signal } : {}),
    });
    // Same checks as a configured key (64 bytes, on the curve).
    pubkey = parseSequencerPubkey(Buffer.from(status.signerPubkey).toString('hex'));
    address = status.signerAddress;
  } catch (cause) {
    throw new ValidatorStartupError(
      `SEQUENCER_PUBKEY is not set and the key could not be discovered from ${url}/status`,
      { cause },
    );
  }
  const hex = Buffer.from(pubkey).toString('hex');
  logger.warn(
    'SEQUENCER_PUBKEY is not set: trusting the key reported by the sequencer (trust on first use). Anyone who can answer this request chooses which signatures are accepted. Pin the key with SEQUENCER_PUBKEY.',
    {
      url: `${url}/status`,
      pubkey: `0x${hex}`,
      address,
      pin: `SEQUENCER_PUBKEY=0x${hex}`,
    },
  );
  return pubkey;
}
