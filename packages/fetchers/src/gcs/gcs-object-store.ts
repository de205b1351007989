import type { Storage } from '@google-cloud/storage';
import {
  BatchTooLargeError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidResponseError,
  ResponseTooLargeError,
} from '../errors';
import { type HttpGetRequest, type HttpGetSettings, httpGet, httpOpen } from '../http/http-get';
import { DEFAULT_MAX_JSON_BYTES } from '../limits';
import type { BatchObjectStore } from '../object-store/batch-object-store';
import { CRC32C_START, crc32cBase64, crc32cFinish, crc32cToBase64, crc32cUpdate } from './crc32c';

/** A listing that keeps returning pages past this is treated as a misbehaving server. */
const MAX_LIST_PAGES = 1_000_000;

export interface GcsObjectStoreSettings {
  /** Endpoint (`baseUrl`) and credentials (`authClient`) come from the client. */
  storage: Storage;
  bucket: string;
  pageSize: number;
  transport: HttpGetSettings;
}

/**
 * The two primitives of a bucket over the JSON API, with our transport (`httpGet`):
 * `GET {baseUrl}/b/{bucket}/o?prefix=...` pages and `GET {baseUrl}/b/{bucket}/o/{name}?alt=media`,
 * the very URLs the client builds. Every failure surfaces as `GcsRequestError` (status and
 * Retry-After kept) once the retries are spent; a missing object is null.
 */
export function createGcsObjectStore(settings: GcsObjectStoreSettings): BatchObjectStore {
  const { storage, bucket, pageSize, transport } = settings;
  const bucketUrl = `${storage.baseUrl.replace(/\/+$/, '')}/b/${encodeURIComponent(bucket)}/o`;

  /** Same rule as the client: a custom endpoint (emulator) gets no credentials unless asked to. */
  const headers = async (url: string): Promise<Headers | Record<string, string>> => {
    if (storage.customEndpoint && !storage.useAuthWithCustomEndpoint) return {};
    try {
      return await storage.authClient.getRequestHeaders(url);
    } catch (error) {
      throw new GcsRequestError(`authenticate for gs://${bucket}`, error);
    }
  };

  async function get(operation: string, request: HttpGetRequest): Promise<Uint8Array | null> {
    try {
      return await httpGet(request, transport);
    } catch (error) {
      if (error instanceof HttpStatusError || error instanceof HttpTransportError)
        throw new GcsRequestError(operation, error);
      throw error;
    }
  }

  return {
    kind: 'gcs',

    async listNames(folder, { signal, startOffset }) {
      const names: string[] = [];
      let pageToken: string | undefined;
      const seenTokens = new Set<string>();
      const operation = `list gs://${bucket}/${folder}`;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        signal?.throwIfAborted();
        const query = new URLSearchParams({
          prefix: folder,
          maxResults: `${pageSize}`,
          fields: 'items(name),nextPageToken',
        });
        if (pageToken !== undefined) query.set('pageToken', pageToken);
        if (startOffset !== undefined) query.set('startOffset', startOffset);
        const url = `${bucketUrl}?${query}`;
        const body = await get(operation, {
          url,
          accept: 'application/json',
          maxBytes: DEFAULT_MAX_JSON_BYTES,
          tooLarge: () => new ResponseTooLargeError(url, DEFAULT_MAX_JSON_BYTES),
          signal,
          headers: () => headers(url),
        });
        // The JSON API answers 404 for a bucket that does not exist: not "no batches".
        if (body === null) {
          throw new GcsRequestError(
            operation,
            new HttpStatusError(url, 404, `bucket ${bucket} not found`),
          );
        }
        const { items, nextPageToken } = listPageFromJson(parseJson(body));
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

    async open(name, { maxBytes, signal }) {
      const { locator, request } = download(name, maxBytes, signal);
      const operation = `download ${locator}`;
      let opened: Awaited<ReturnType<typeof httpOpen>>;
      try {
        opened = await httpOpen(
          { ...request, verify: (response) => streamedCrc32c(locator, response) },
          transport,
        );
      } catch (error) {
        if (error instanceof HttpStatusError || error instanceof HttpTransportError)
          throw new GcsRequestError(operation, error);
        throw error;
      }
      if (opened === null) return null;
      return { size: opened.size, body: asGcsErrors(opened.body, operation) };
    },

    read(name, { maxBytes, signal }) {
      const { locator, request } = download(name, maxBytes, signal);
      return get(`download ${locator}`, {
        ...request,
        verify: (body, response) => verifyCrc32c(locator, body, response),
      });
    },
  };

  /** The media download of object `name` (`open` and `read` add their CRC32C check). */
  function download(name: string, maxBytes: number, signal: AbortSignal | undefined) {
    const locator = `gs://${bucket}/${name}`;
    const url = `${bucketUrl}/${encodeURIComponent(name)}?alt=media`;
    return {
      locator,
      request: {
        url,
        accept: 'application/octet-stream, */*',
        maxBytes,
        tooLarge: (size: number | undefined) => new BatchTooLargeError(locator, maxBytes, size),
        signal,
        headers: () => headers(url),
      },
    };
  }
}

/**
 * Checks the object's crc32c from `x-goog-hash` when the served bytes are the stored bytes (stored
 * without content encoding, as the sequencer stores batches), like the client does. A mismatch
 * is a damaged transfer and is retried; a batch damaged in storage fails its signature instead.
 */
function verifyCrc32c(locator: string, body: Uint8Array, response: Response): void {
  const expected = expectedCrc32c(response);
  if (expected === undefined) return;
  const actual = crc32cBase64(body);
  if (actual !== expected) {
    throw new InvalidResponseError(`GCS download ${locator}`, 'crc32c does not match x-goog-hash', {
      details: `expected ${expected}, got ${actual} over ${body.byteLength} bytes`,
    });
  }
}

/** The crc32c to check the served bytes against, when they are the stored bytes and GCS sent one. */
function expectedCrc32c(response: Response): string | undefined {
  const stored = response.headers.get('x-goog-stored-content-encoding');
  if (stored !== null && stored !== 'identity') return undefined;
  if (response.headers.get('content-encoding') !== null) return undefined;
  return response.headers
    .get('x-goog-hash')
    ?.split(',')
    .map((part) => part.trim())
    .find((part) => part.startsWith('crc32c='))
    ?.slice('crc32c='.length);
}

/** `verifyCrc32c` over a body as it streams past (checked once it is complete). */
function streamedCrc32c(locator: string, response: Response) {
  const expected = expectedCrc32c(response);
  if (expected === undefined) return undefined;
  let state = CRC32C_START;
  return {
    update: (chunk: Uint8Array) => {
      state = crc32cUpdate(state, chunk);
    },
    end: (total: number) => {
      const actual = crc32cToBase64(crc32cFinish(state));
      if (actual !== expected) {
        throw new InvalidResponseError(
          `GCS download ${locator}`,
          'crc32c does not match x-goog-hash',
          { details: `expected ${expected}, got ${actual} over ${total} bytes` },
        );
      }
    },
  };
}

/** A streamed download's transport failures as GcsRequestError, as `read` reports them. */
async function* asGcsErrors(
  body: AsyncIterable<Uint8Array>,
  operation: string,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if (error instanceof HttpStatusError || error instanceof HttpTransportError)
      throw new GcsRequestError(operation, error);
    throw error;
  }
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (cause) {
    throw new InvalidResponseError('GCS list', 'page is not UTF-8 JSON', { cause });
  }
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
