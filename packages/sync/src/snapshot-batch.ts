// Batches too large to download whole (issue 13). A snapshot travels in one batch with its
// whole database, so its batch can be far larger than the caps that bound an ordinary batch in
// memory. Storage does not say which batches carry one (names and listings give ranges only), so
// the engine tells by the bytes: a batch over the fetcher's download cap is streamed, and its
// snapshot payloads, recognised by their signed header as they arrive, are spooled to disk
// while everything else is held within the ordinary caps. A batch over the cap without a
// snapshot fails as before (BATCH_TOO_LARGE).
import { BatchTooLargeError } from '@synddb/fetchers';
import { type BatchInfo, MessageType, readBatchStream } from '@synddb/protocol';
import { verifyStreamedBatch } from '@synddb/verifier';
import { BatchListingMismatchError, BatchUnavailableError, requireTrustedKey } from './errors';
import {
  decodeMessage,
  type PrepareContext,
  type PreparedBatch,
  type PreparedMessage,
} from './prepare-batch';
import { type SnapshotSpoolPlace, SpoolFile } from './snapshot-spool';

/** How batches that carry a snapshot are bounded (`PrepareContext.snapshotBatches`). */
export interface SnapshotBatchLimits {
  /**
   * Largest batch streamed because it is over the fetcher's download cap: its download and its
   * decompressed size (the snapshot payloads spooled to disk included).
   */
  maxBatchBytes: number;
  /** Where the snapshot payloads are spooled, and the free disk space to leave. */
  spool: SnapshotSpoolPlace;
}

/**
 * The cap a download failed on when it failed for its size (`BatchTooLargeError`, also from any
 * source of a fallback fetcher), else undefined.
 */
export function downloadCapOf(error: unknown): number | undefined {
  // By code, not class: a bundle may hold its own copy of the fetchers' error classes.
  const limits: number[] = [];
  const visit = (e: unknown, depth: number): void => {
    for (let link = e, n = 0; link !== null && typeof link === 'object' && n < 16; n++) {
      const { code, limit, errors, cause } = link as {
        code?: unknown;
        limit?: unknown;
        errors?: unknown;
        cause?: unknown;
      };
      if (code === 'BATCH_TOO_LARGE' && typeof limit === 'number') limits.push(limit);
      // A fallback fetcher's sources.
      if (Array.isArray(errors) && depth < 4) {
        for (const source of errors) visit((source as { error?: unknown }).error, depth + 1);
      }
      if (cause === link) break;
      link = cause;
    }
  };
  visit(error, 0);
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/**
 * Streams a batch that was too large for the fetcher's `getBatch` (cap `downloadCap`) and
 * prepares it: every check `prepareBatch` makes, with each snapshot payload spooled to a file
 * (the message's `payload` is then a `SpooledPayload`) and hashed as it arrives; the other
 * messages, held in memory, may take at most `min(downloadCap, maxDecompressedBatchBytes)`. A
 * batch without a snapshot fails with `BatchTooLargeError`. On any failure the spooled files are
 * removed; on success the caller owns them (`discardSpooled`).
 */
export async function prepareSnapshotBatch(
  info: BatchInfo,
  downloadCap: number,
  ctx: PrepareContext & { snapshotBatches: SnapshotBatchLimits },
): Promise<PreparedBatch> {
  const { fetcher, signal } = ctx;
  const limits = ctx.snapshotBatches;
  if (fetcher.openBatch === undefined) {
    throw new BatchTooLargeError(info.path, downloadCap);
  }
  const started = performance.now();
  const stream = await fetcher.openBatch(info, {
    maxBytes: limits.maxBatchBytes,
    ...(signal ? { signal } : {}),
  });
  if (stream === null) throw new BatchUnavailableError(info.path, info.startSequence);
  const spools: SpoolFile[] = [];
  try {
    const inMemory = Math.min(downloadCap, ctx.maxDecompressedBatchBytes);
    const batch = await readBatchStream(stream.body, {
      maxInMemoryBytes: inMemory,
      // What is not a snapshot payload must fit where an ordinary batch would: past the
      // download cap it fails as an ordinary batch over it does.
      ...(inMemory === downloadCap
        ? {
            inMemoryLimitError: (bytes: number) =>
              new BatchTooLargeError(info.path, downloadCap, bytes),
          }
        : {}),
      maxDecompressedBytes: limits.maxBatchBytes,
      openSpool: async ({ payloadBytes }) => {
        const file = await SpoolFile.create(limits.spool, payloadBytes);
        spools.push(file);
        return { handle: file, write: (chunk) => file.write(chunk), end: () => file.end() };
      },
    });
    ctx.onFetched?.({
      startSequence: info.startSequence,
      bytes: batch.compressedBytes,
      seconds: (performance.now() - started) / 1000,
    });
    // Only a snapshot may take a batch past the download cap.
    if (!batch.messages.some((m) => m.spooled !== undefined)) {
      throw new BatchTooLargeError(info.path, downloadCap, batch.compressedBytes);
    }
    if (batch.startSequence !== info.startSequence || batch.endSequence !== info.endSequence) {
      throw new BatchListingMismatchError(
        { start: info.startSequence, end: info.endSequence },
        { start: batch.startSequence, end: batch.endSequence },
      );
    }
    const key = requireTrustedKey(ctx.trustedKeys, batch.pubkey);
    const verifyStarted = performance.now();
    const verified = verifyStreamedBatch(batch, {
      expectedPubkey: key,
      ...(ctx.backend ? { backend: ctx.backend } : {}),
    });
    const messages = verified.messages.map((m): PreparedMessage => {
      if (m.spooled === undefined) {
        return decodeMessage(m, ctx.maxDecompressedBatchBytes, ctx.stateDeltas === true);
      }
      return {
        type: MessageType.Snapshot,
        sequence: m.sequence,
        timestamp: m.timestamp,
        messageHash: m.spooled.payloadHash,
        payload: m.spooled.handle,
      };
    });
    ctx.onVerified?.({
      startSequence: info.startSequence,
      messages: messages.length,
      seconds: (performance.now() - verifyStarted) / 1000,
    });
    return { info, messages, bytes: batch.compressedBytes };
  } catch (error) {
    await Promise.all(spools.map((file) => file.discard()));
    throw error;
  }
}
