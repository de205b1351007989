import type { BatchStream, FetchCallOptions } from '../types';

/**
 * The two primitives a GCS bucket or a directory offers. Everything else (parsing names, sorting,
 * incremental listing, locating batches, message lookup) is written once on top of them, in
 * `createObjectStoreFetcher`.
 */
export interface BatchObjectStore {
  readonly kind: string;
  /**
   * Names of all objects in `folder` (full names, folder included), in any order. With
   * `startOffset`, a store that lists lexicographically may leave out names < startOffset.
   */
  listNames(
    folder: string,
    options: FetchCallOptions & { startOffset?: string },
  ): Promise<string[]>;
  /** The object's bytes, or null when it does not exist; rejects with BatchTooLargeError above maxBytes. */
  read(name: string, options: FetchCallOptions & { maxBytes: number }): Promise<Uint8Array | null>;
  /** The object's bytes as a stream (see `StorageFetcher.openBatch`), or null when it does not exist. */
  open?(
    name: string,
    options: FetchCallOptions & { maxBytes: number },
  ): Promise<BatchStream | null>;
}
