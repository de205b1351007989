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

/** A batch's stored bytes as they arrive (`StorageFetcher.openBatch`). */
export interface BatchStream {
  /** The size the store announced (Content-Length, object size), when it did. */
  size: number | undefined;
  /**
   * The bytes, in order. Ends with a `storage` error when the transfer fails or stalls (not
   * retried once bytes flowed: the caller retries the batch), and with `BatchTooLargeError` past
   * `maxBytes`. Read it to the end, or stop early (break) to release the connection or file.
   */
  body: AsyncIterable<Uint8Array>;
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
  /**
   * The stored blob as a stream, for a batch too large for `getBatch` (`BatchTooLargeError`): a
   * snapshot travels in one batch. `maxBytes` takes the place of `maxBatchBytes` for this call;
   * the caller bounds what it keeps of the bytes. Null when the store has no such batch. Optional
   * (every fetcher of this package has it); without it such a batch cannot be read.
   */
  openBatch?(
    info: BatchInfo,
    options: FetchCallOptions & { maxBytes: number },
  ): Promise<BatchStream | null>;
  /** One message by sequence, or null when no listed batch holds it. */
  getMessage(sequence: bigint, options?: FetchCallOptions): Promise<SignedMessage | null>;
  /** The highest stored sequence (max batch end), or null when the store is empty. */
  getLatestSequence(options?: FetchCallOptions): Promise<bigint | null>;
}
