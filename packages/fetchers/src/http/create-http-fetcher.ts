import { type BatchInfo, parseSignedMessageJson, type SignedMessage } from '@synddb/protocol';
import {
  BatchTooLargeError,
  FetcherConfigError,
  HttpStatusError,
  InvalidResponseError,
  ResponseTooLargeError,
} from '../errors';
import { parseJsonExact } from '../json/parse-json-exact';
import { batchListFromJson, latestSequenceFromJson } from '../json/storage-responses';
import { checkIntegerOption, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_JSON_BYTES } from '../limits';
import type { BatchStream, FetchCallOptions, ListBatchesOptions, StorageFetcher } from '../types';
import {
  type HttpGetSettings,
  type HttpTransportOptions,
  httpGet,
  httpOpen,
  resolveHttpTransport,
} from './http-get';

export interface HttpFetcherOptions extends HttpTransportOptions {
  /** Sequencer base URL, e.g. `http://127.0.0.1:8433`; trailing slashes are trimmed. */
  baseUrl: string;
  /** Largest batch blob accepted. Default 64 MiB. */
  maxBatchBytes?: number;
  /** Largest JSON body accepted (listing, message, latest). Default 64 MiB. */
  maxJsonBytes?: number;
}

export interface ResolvedHttpSettings extends HttpGetSettings {
  baseUrl: string;
  maxBatchBytes: number;
  maxJsonBytes: number;
}

/** Validates options and fills defaults; shared with `fetchSequencerStatus`. */
export function resolveHttpSettings(options: HttpFetcherOptions): ResolvedHttpSettings {
  let parsed: URL;
  try {
    parsed = new URL(options.baseUrl);
  } catch (cause) {
    throw new FetcherConfigError(
      `baseUrl ${JSON.stringify(options.baseUrl)} is not a URL`,
      String(cause),
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FetcherConfigError(`baseUrl must be http(s), got ${parsed.protocol}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new FetcherConfigError('baseUrl must not carry a query or fragment');
  }
  return {
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...resolveHttpTransport(options),
    maxBatchBytes: checkIntegerOption(
      'maxBatchBytes',
      options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      1,
    ),
    maxJsonBytes: checkIntegerOption(
      'maxJsonBytes',
      options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES,
      1,
    ),
  };
}

/** GETs a JSON document; null on 404. */
export async function getJsonText(
  settings: ResolvedHttpSettings,
  path: string,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  const url = `${settings.baseUrl}${path}`;
  const body = await httpGet(
    {
      url,
      accept: 'application/json',
      maxBytes: settings.maxJsonBytes,
      tooLarge: () => new ResponseTooLargeError(url, settings.maxJsonBytes),
      signal,
    },
    settings,
  );
  if (body === null) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (cause) {
    throw new InvalidResponseError(`GET ${path}`, 'body is not valid UTF-8', { cause });
  }
}

/** Like `getJsonText` for routes every sequencer serves: a 404 means a wrong base URL. */
async function getRequiredJsonText(
  settings: ResolvedHttpSettings,
  path: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const text = await getJsonText(settings, path, signal);
  if (text === null) {
    throw new HttpStatusError(
      `${settings.baseUrl}${path}`,
      404,
      'is baseUrl the sequencer (without /storage)?',
    );
  }
  return text;
}

/**
 * Fetcher for the sequencer's storage API (docs/protocol.md#sequencer-storage-api, docs/compatibility.md#storage-access):
 * `/storage/batches`, `/storage/batches/{start}`, `/storage/messages/{seq}`, `/storage/latest`.
 * `BatchInfo.path` is the decimal start; `getBatch` addresses batches by `startSequence`.
 */
export function createHttpFetcher(options: HttpFetcherOptions): StorageFetcher {
  const settings = resolveHttpSettings(options);

  return {
    kind: 'http',

    async listBatches({ after, signal }: ListBatchesOptions = {}): Promise<BatchInfo[]> {
      const text = await getRequiredJsonText(settings, '/storage/batches', signal);
      const list = batchListFromJson(
        parseJsonExact(text, 'GET /storage/batches'),
        'GET /storage/batches',
      );
      return after === undefined ? list : list.filter((b) => b.startSequence > after.startSequence);
    },

    async getBatch(info: BatchInfo, { signal }: FetchCallOptions = {}): Promise<Uint8Array | null> {
      const url = `${settings.baseUrl}/storage/batches/${info.startSequence}`;
      return httpGet(
        {
          url,
          accept: 'application/cbor+zstd, application/octet-stream',
          maxBytes: settings.maxBatchBytes,
          tooLarge: (size) => new BatchTooLargeError(url, settings.maxBatchBytes, size),
          signal,
        },
        settings,
      );
    },

    async openBatch(
      info: BatchInfo,
      { signal, maxBytes }: FetchCallOptions & { maxBytes: number },
    ): Promise<BatchStream | null> {
      checkIntegerOption('maxBytes', maxBytes, 1);
      const url = `${settings.baseUrl}/storage/batches/${info.startSequence}`;
      return httpOpen(
        {
          url,
          accept: 'application/cbor+zstd, application/octet-stream',
          maxBytes,
          tooLarge: (size) => new BatchTooLargeError(url, maxBytes, size),
          signal,
        },
        settings,
      );
    },

    async getMessage(
      sequence: bigint,
      { signal }: FetchCallOptions = {},
    ): Promise<SignedMessage | null> {
      const text = await getJsonText(settings, `/storage/messages/${sequence}`, signal);
      return text === null ? null : parseSignedMessageJson(text);
    },

    async getLatestSequence({ signal }: FetchCallOptions = {}): Promise<bigint | null> {
      const text = await getRequiredJsonText(settings, '/storage/latest', signal);
      return latestSequenceFromJson(
        parseJsonExact(text, 'GET /storage/latest'),
        'GET /storage/latest',
      );
    },
  };
}
