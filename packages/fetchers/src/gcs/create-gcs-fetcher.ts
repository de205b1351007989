import { type Bucket, Storage } from '@google-cloud/storage';
import {
  BatchTooLargeError,
  FetcherConfigError,
  GcsRequestError,
  InvalidResponseError,
} from '../errors';
import { checkIntegerOption, DEFAULT_GCS_PAGE_SIZE, DEFAULT_MAX_BATCH_BYTES } from '../limits';
import { normalizePrefix } from '../object-store/batch-object-name';
import type { BatchObjectStore } from '../object-store/batch-object-store';
import { createObjectStoreFetcher } from '../object-store/create-object-store-fetcher';
import type { StorageFetcher } from '../types';

/** A listing that keeps returning pages past this is treated as a misbehaving server. */
const MAX_LIST_PAGES = 1_000_000;

export interface GcsFetcherOptions {
  bucket: string;
  /** Objects live under `{prefix}/batches/`. Default 'sequencer' (upstream `GCS_PREFIX`). */
  prefix?: string;
  /**
   * Emulator or test server base URL (e.g. `http://127.0.0.1:4443`). Requests go there without
   * credentials. Without it, Application Default Credentials are used.
   */
  emulatorHost?: string;
  /** A preconfigured client (custom credentials, retry options); `emulatorHost` is then ignored. */
  storage?: Storage;
  /** Largest batch object accepted. Default 64 MiB. */
  maxBatchBytes?: number;
  /** Cap on a decompressed batch in `getMessage`. Default: @synddb/protocol's (256 MiB). */
  maxDecompressedBytes?: number;
  /** Objects per listing page (1..1000). Default 1000. */
  pageSize?: number;
}

/**
 * A StorageFetcher over a GCS bucket (REFERENCE.md §1.3.2, PROTOCOL.md §5.2). Listings follow
 * page tokens one bounded page at a time; incremental listings pass the last known object name
 * as `startOffset`, so a refresh reads only new objects. `BatchInfo.path` is the object name.
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
  return createObjectStoreFetcher(createGcsObjectStore(storage.bucket(options.bucket), pageSize), {
    prefix: normalizePrefix(options.prefix ?? 'sequencer'),
    maxBatchBytes,
    maxDecompressedBytes:
      options.maxDecompressedBytes === undefined
        ? undefined
        : checkIntegerOption('maxDecompressedBytes', options.maxDecompressedBytes, 1),
  });
}

/**
 * With an emulator host, `apiEndpoint` points the client at it; the client then skips
 * authentication for the custom endpoint (its `useAuthWithCustomEndpoint` defaults to false).
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

function createGcsObjectStore(bucket: Bucket, pageSize: number): BatchObjectStore {
  return {
    kind: 'gcs',

    async listNames(folder, { signal, startOffset }) {
      const names: string[] = [];
      let pageToken: string | undefined;
      const seenTokens = new Set<string>();
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        signal?.throwIfAborted();
        let response: unknown;
        try {
          response = await abortable(
            listPage(bucket, {
              prefix: folder,
              maxResults: pageSize,
              fields: 'items(name),nextPageToken',
              ...(pageToken !== undefined ? { pageToken } : {}),
              ...(startOffset !== undefined ? { startOffset } : {}),
            }),
            signal,
          );
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          throw new GcsRequestError(`list gs://${bucket.name}/${folder}`, error);
        }
        const { items, nextPageToken } = listPageFromJson(response);
        for (const name of items) names.push(name);
        if (nextPageToken === undefined) return names;
        if (seenTokens.has(nextPageToken)) {
          throw new InvalidResponseError('GCS list', 'the server repeated a page token', {
            details: nextPageToken,
          });
        }
        seenTokens.add(nextPageToken);
        pageToken = nextPageToken;
      }
      throw new InvalidResponseError('GCS list', `more than ${MAX_LIST_PAGES} pages`);
    },

    read(name, { maxBytes, signal }) {
      const locator = `gs://${bucket.name}/${name}`;
      return new Promise<Uint8Array | null>((resolve, reject) => {
        signal?.throwIfAborted();
        const stream = bucket.file(name).createReadStream();
        const chunks: Buffer[] = [];
        let total = 0;
        let settled = false;
        const finish = (error: unknown, value?: Uint8Array | null) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (error === undefined) resolve(value ?? null);
          else reject(error);
        };
        const onAbort = () => {
          stream.destroy();
          finish(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('response', (response: { headers?: Record<string, unknown> }) => {
          const announced = Number(response.headers?.['content-length']);
          if (Number.isFinite(announced) && announced > maxBytes) {
            finish(new BatchTooLargeError(locator, maxBytes, announced));
            // The client pipes the response into `stream` right after this event: destroying it
            // synchronously makes that pipe throw an unhandled ERR_STREAM_UNABLE_TO_PIPE.
            setImmediate(() => stream.destroy());
          }
        });
        stream.on('data', (chunk: Buffer) => {
          if (settled) return;
          total += chunk.byteLength;
          if (total > maxBytes) {
            stream.destroy();
            finish(new BatchTooLargeError(locator, maxBytes, total));
            return;
          }
          chunks.push(chunk);
        });
        stream.on('error', (error: unknown) => {
          if ((error as { code?: unknown }).code === 404) finish(undefined, null);
          else finish(new GcsRequestError(`download ${locator}`, error));
        });
        stream.on('end', () => {
          const out = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
          finish(undefined, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
        });
      });
    },
  };
}

/**
 * One raw `objects.list` page. `bucket.getFiles` is not used: it maps `items` to File objects
 * inside its callback, and a malformed page (items not an array, an item without a name) throws
 * there, leaving its promise pending forever. The raw JSON goes to `listPageFromJson` instead.
 */
function listPage(bucket: Bucket, query: Record<string, string | number>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    bucket.request({ uri: '/o', qs: query }, (error, body) => {
      if (error) reject(error);
      else resolve(body);
    });
  });
}

/** Validates one JSON-API list page (`{items?: [{name}], nextPageToken?}`). */
function listPageFromJson(value: unknown): { items: string[]; nextPageToken: string | undefined } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidResponseError('GCS list', 'page is not a JSON object');
  }
  const page = value as { items?: unknown; nextPageToken?: unknown };
  const items: string[] = [];
  if (page.items !== undefined) {
    if (!Array.isArray(page.items))
      throw new InvalidResponseError('GCS list', 'items is not an array');
    for (const item of page.items) {
      const name = (item as { name?: unknown } | null)?.name;
      if (typeof name !== 'string')
        throw new InvalidResponseError('GCS list', 'an item has no string name');
      items.push(name);
    }
  }
  const token = page.nextPageToken;
  if (token !== undefined && token !== null && (typeof token !== 'string' || token === '')) {
    throw new InvalidResponseError('GCS list', 'nextPageToken is not a non-empty string');
  }
  return { items, nextPageToken: typeof token === 'string' ? token : undefined };
}

/** Races a client promise against the caller's abort signal (the client takes no signal). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
