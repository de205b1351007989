// The main entry: every adapter but GCS, whose SDK only `@synddb/fetchers/gcs` loads.
export { BatchIndex, type BatchIndexRefreshOptions } from './batch-index';
export {
  BatchOverlapError,
  BatchTooLargeError,
  FallbackExhaustedError,
  FetcherConfigError,
  FsReadError,
  FsWriteError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidBatchPathError,
  InvalidBatchRangeError,
  InvalidResponseError,
  ResponseTooLargeError,
  retryAfterOf,
} from './errors';
export {
  createFallbackFetcher,
  type FallbackFetcherOptions,
} from './fallback/create-fallback-fetcher';
export { createFsFetcher, type FsFetcherOptions } from './fs/create-fs-fetcher';
export { writeBatchFile } from './fs/write-batch-file';
export { createHttpFetcher, type HttpFetcherOptions } from './http/create-http-fetcher';
export {
  type FetchSequencerStatusOptions,
  fetchSequencerStatus,
} from './http/fetch-sequencer-status';
export type { HttpTransportOptions } from './http/http-get';
export type { SequencerStatus } from './json/storage-responses';
export { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_JSON_BYTES } from './limits';
export {
  batchesFolder,
  batchInfoFromObjectName,
  objectNameFor,
} from './object-store/batch-object-name';
export type {
  BatchStream,
  FetchCallOptions,
  ListBatchesOptions,
  StorageFetcher,
} from './types';
