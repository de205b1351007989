import type { BatchInfo, SignedMessage } from '@synddb/protocol';

/** Options every fetcher call accepts. Aborting rejects with the signal's reason. */
export interface FetchCallOptions {
  signal?: AbortSignal;
}

export interface ListBatchesOptions extends FetchCallOptions {
  /**
   * The last entry the caller already knows. Implementations return only batches that start
   * after it, and list only newer objects where the store allows (GCS `startOffset`).
   */
  after?: BatchInfo;
}

/**
 * Read access to a sequencer's data-availability store. Implementations: `http` (the sequencer's
 * `/storage` API), `gcs` (bucket objects), `fs` (a local directory with the GCS layout) and
 * `fallback` (several of those in order).
 *
 * "Absent" is `null`, never an error; errors are `SyndDBError`s with a stable `code`.
 */
export interface StorageFetcher {
  readonly kind: string;
  /** Batches sorted by start sequence. */
  listBatches(options?: ListBatchesOptions): Promise<BatchInfo[]>;
  /**
   * The raw stored blob (`zstd(CBOR(batch))`), at most `maxBatchBytes` long; null when the store
   * has no such batch. Locates the batch by `info.path` when the path is this store's own
   * locator, else by `startSequence`/`endSequence`, so BatchInfo from another store works too.
   */
  getBatch(info: BatchInfo, options?: FetchCallOptions): Promise<Uint8Array | null>;
  /** One message by sequence, or null when no listed batch holds it. */
  getMessage(sequence: bigint, options?: FetchCallOptions): Promise<SignedMessage | null>;
  /** The highest stored sequence (max batch end), or null when the store is empty. */
  getLatestSequence(options?: FetchCallOptions): Promise<bigint | null>;
}
