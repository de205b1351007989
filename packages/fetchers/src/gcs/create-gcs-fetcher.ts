import { Storage } from '@google-cloud/storage';
import { FetcherConfigError } from '../errors';
import { type HttpTransportOptions, resolveHttpTransport } from '../http/http-get';
import { checkIntegerOption, DEFAULT_GCS_PAGE_SIZE, DEFAULT_MAX_BATCH_BYTES } from '../limits';
import { normalizePrefix } from '../object-store/batch-object-name';
import { createObjectStoreFetcher } from '../object-store/create-object-store-fetcher';
import type { StorageFetcher } from '../types';
import { createGcsObjectStore } from './gcs-object-store';

/** Options of createGcsFetcher; the transport options apply to every download and listing page. */
export interface GcsFetcherOptions extends HttpTransportOptions {
  bucket: string;
  /** Objects live under `{prefix}/batches/`. Default 'sequencer' (upstream `GCS_PREFIX`). */
  prefix?: string;
  /**
   * Emulator or test server base URL (e.g. `http://127.0.0.1:4443`). Requests go there without
   * credentials. Without it, Application Default Credentials are used.
   */
  emulatorHost?: string;
  /**
   * A preconfigured client: its endpoint and credentials are used (custom credentials, universe
   * domain, `useAuthWithCustomEndpoint`); `emulatorHost` is then ignored. Its `retryOptions` and
   * `timeout` are not: requests go through this fetcher's own transport and retry policy.
   */
  storage?: Storage;
  /** Largest batch object accepted. Default 64 MiB. */
  maxBatchBytes?: number;
  /** Cap on a decompressed batch in `getMessage`. Default: @synddb/protocol's (256 MiB). */
  maxDecompressedBytes?: number;
  /** Objects per listing page (1..1000). Default 1000. */
  pageSize?: number;
}

/**
 * A StorageFetcher over a GCS bucket (docs/protocol.md#gcs-layout). Listings follow
 * page tokens one bounded page at a time; incremental listings pass the last known object name
 * as `startOffset`, so a refresh reads only new objects. `BatchInfo.path` is the object name.
 *
 * The `@google-cloud/storage` client supplies the endpoint and the credentials; the requests
 * themselves (JSON-API listing pages and `alt=media` downloads) go through the same transport as
 * the HTTP fetcher (`httpGet`): a per-attempt timeout that aborts and closes the connection, our
 * retries with full-jitter backoff and Retry-After, bounded bodies, crc32c checked against
 * `x-goog-hash`. Not through the client's `createReadStream`: with its automatic retries on, a
 * single 429/500/503 on a download makes it pipe into a destroyed stream and the process dies of
 * an unhandled `ERR_STREAM_UNABLE_TO_PIPE` (googleapis/google-cloud-node#8670), and a stalled body
 * there has no timeout at all.
 */
export function createGcsFetcher(options: GcsFetcherOptions): StorageFetcher {
  if (typeof options.bucket !== 'string' || options.bucket === '')
    throw new FetcherConfigError('bucket is required');
  const storage = options.storage ?? createStorageClient(options.emulatorHost);
  const maxBatchBytes = checkIntegerOption(
    'maxBatchBytes',
    options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    1,
  );
  const pageSize = checkIntegerOption(
    'pageSize',
    options.pageSize ?? DEFAULT_GCS_PAGE_SIZE,
    1,
    1000,
  );
  const store = createGcsObjectStore({
    storage,
    bucket: options.bucket,
    pageSize,
    transport: resolveHttpTransport(options),
  });
  return createObjectStoreFetcher(store, {
    prefix: normalizePrefix(options.prefix ?? 'sequencer'),
    maxBatchBytes,
    maxDecompressedBytes:
      options.maxDecompressedBytes === undefined
        ? undefined
        : checkIntegerOption('maxDecompressedBytes', options.maxDecompressedBytes, 1),
  });
}

/**
 * With an emulator host, `apiEndpoint` points the client at it; the client then treats it as a
 * custom endpoint and skips authentication (`useAuthWithCustomEndpoint` defaults to false), and
 * so does the object store.
 */
function createStorageClient(emulatorHost: string | undefined): Storage {
  if (emulatorHost === undefined) return new Storage();
  if (!/^https?:\/\/[^/]/.test(emulatorHost)) {
    throw new FetcherConfigError(
      `emulatorHost must be an http(s) URL, got ${JSON.stringify(emulatorHost)}`,
    );
  }
  return new Storage({
    apiEndpoint: emulatorHost.replace(/\/+$/, ''),
    projectId: 'synddb-emulator',
  });
}
