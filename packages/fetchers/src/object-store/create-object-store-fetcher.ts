import {
  type BatchInfo,
  decodeBatchBlob,
  type SignedBatch,
  type SignedMessage,
  signedMessageFromCose,
} from '@synddb/protocol';
import { BatchIndex } from '../batch-index';
import type { FetchCallOptions, ListBatchesOptions, StorageFetcher } from '../types';
import { batchesFolder, batchInfoFromObjectName, objectNameFor } from './batch-object-name';
import type { BatchObjectStore } from './batch-object-store';

/** Starts below this have exactly 12 digits, where name order equals numeric order. */
const TWELVE_DIGIT_LIMIT = 10n ** 12n;

export interface ObjectStoreFetcherSettings {
  prefix: string;
  maxBatchBytes: number;
  /** Cap on the decompressed batch in `getMessage` (bounded zstd). */
  maxDecompressedBytes: number | undefined;
}

/**
 * A StorageFetcher over a store with the `{prefix}/batches/{start:012}_{end:012}.cbor.zst` layout.
 *
 * `getMessage` keeps its own BatchIndex (refreshed incrementally only when the sequence lies past
 * what is known) and the most recently decoded batch, so reading a batch's messages one by one
 * costs one download and one decode, and never a listing of every batch (the reference's GCS
 * fetcher re-lists the whole bucket per message, docs/defects-fixed.md#gcs-catch-up-per-message).
 */
export function createObjectStoreFetcher(
  store: BatchObjectStore,
  settings: ObjectStoreFetcherSettings,
): StorageFetcher {
  const folder = batchesFolder(settings.prefix);
  const index = new BatchIndex();
  let cached: { start: bigint; end: bigint; batch: Promise<SignedBatch | null> } | null = null;

  async function listBatches({ after, signal }: ListBatchesOptions = {}): Promise<BatchInfo[]> {
    // GCS lists lexicographically; while starts have 12 digits that is numeric order, so every
    // newer batch sorts after the last known name. Beyond that, list everything and filter.
    const startOffset =
      after !== undefined && after.endSequence + 1n < TWELVE_DIGIT_LIMIT
        ? objectNameFor(folder, after)
        : undefined;
    const names = await store.listNames(folder, {
      ...(signal ? { signal } : {}),
      ...(startOffset !== undefined ? { startOffset } : {}),
    });
    const out: BatchInfo[] = [];
    for (const name of names) {
      const info = batchInfoFromObjectName(folder, name);
      if (info !== null && (after === undefined || info.startSequence > after.startSequence))
        out.push(info);
    }
    out.sort((a, b) =>
      a.startSequence < b.startSequence ? -1 : a.startSequence > b.startSequence ? 1 : 0,
    );
    return out;
  }

  function getBatch(
    info: BatchInfo,
    { signal }: FetchCallOptions = {},
  ): Promise<Uint8Array | null> {
    return store.read(objectNameFor(folder, info), {
      maxBytes: settings.maxBatchBytes,
      ...(signal ? { signal } : {}),
    });
  }

  const open = store.open?.bind(store);
  const fetcher: StorageFetcher = {
    kind: store.kind,
    listBatches,
    getBatch,
    ...(open === undefined
      ? {}
      : {
          openBatch: (
            info: BatchInfo,
            { signal, maxBytes }: FetchCallOptions & { maxBytes: number },
          ) => open(objectNameFor(folder, info), { maxBytes, ...(signal ? { signal } : {}) }),
        }),

    async getMessage(
      sequence: bigint,
      options: FetchCallOptions = {},
    ): Promise<SignedMessage | null> {
      let info = index.find(sequence);
      const latest = index.latest();
      if (info === null && (latest === null || sequence > latest.endSequence)) {
        await index.refresh(fetcher, options.signal ? { signal: options.signal } : {});
        info = index.find(sequence);
      }
      if (info === null) return null;
      const batch = await decodedBatch(info, options);
      if (batch === null) return null;
      // Messages are normally consecutive from the start; fall back to a scan for odd batches.
      const offset = sequence - batch.startSequence;
      const direct =
        offset < BigInt(batch.parsedMessages.length)
          ? batch.parsedMessages[Number(offset)]
          : undefined;
      const message =
        direct?.header.sequence === sequence
          ? direct
          : batch.parsedMessages.find((m) => m.header.sequence === sequence);
      return message === undefined ? null : signedMessageFromCose(message);
    },

    async getLatestSequence(options: FetchCallOptions = {}): Promise<bigint | null> {
      await index.refresh(fetcher, options.signal ? { signal: options.signal } : {});
      return index.latest()?.endSequence ?? null;
    },
  };

  function decodedBatch(info: BatchInfo, options: FetchCallOptions): Promise<SignedBatch | null> {
    if (cached !== null && cached.start === info.startSequence && cached.end === info.endSequence) {
      return cached.batch;
    }
    const batch = getBatch(info, options).then((blob) =>
      blob === null
        ? null
        : decodeBatchBlob(
            blob,
            settings.maxDecompressedBytes === undefined
              ? {}
              : { maxDecompressedBytes: settings.maxDecompressedBytes },
          ),
    );
    const entry = { start: info.startSequence, end: info.endSequence, batch };
    cached = entry;
    // A failed or missing download must not stick: the next call retries it.
    batch.then(
      (b) => {
        if (b === null && cached === entry) cached = null;
      },
      () => {
        if (cached === entry) cached = null;
      },
    );
    return batch;
  }

  return fetcher;
}
