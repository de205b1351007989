import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { restoreSnapshot } from '@synddb/applier';
import {
  DecompressionLimitError,
  decodeSnapshotRequest,
  MessageType,
  streamSnapshotImage,
  zstdDecompress,
} from '@synddb/protocol';
import { isReservedName, type StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';
import type { PreparedMessage } from './prepare-batch';
import { requireFreeSpace, requireFreeSpaceSync } from './snapshot-spool';
import type { StateRootHandler, StateRootTracker } from './state-root-tracker';

export interface RestoreSnapshotContext {
  db: Database;
  /** Path of the replica file; the image is spooled next to it. `:memory:` spools to the OS temp dir. */
  databasePath: string;
  state: StateStore;
  maxSnapshotBytes: number;
  /** Free disk space to leave while the image is written, and after it with room for its copy. */
  diskReserveBytes: number;
  startSequence: bigint;
  stateRoot?: StateRootTracker | undefined;
  onStateRoot?: StateRootHandler | undefined;
}

/**
 * Replaces the replica's content with a snapshot message's database image. The swap and the
 * cursor move commit in one transaction: readers see the old or the new database, and a crash
 * leaves either the old content with the old cursor or the new content with the new cursor. The
 * engine's own tables (`_synddb_*`: cursor, gaps, outbox) are kept, and ignored in the image.
 * Returns the image size in bytes.
 */
export async function restoreSnapshotMessage(
  message: Extract<PreparedMessage, { type: typeof MessageType.Snapshot }>,
  ctx: RestoreSnapshotContext,
): Promise<number> {
  // The payload (in memory, or spooled to disk when its batch was too large to download whole)
  // is decompressed as a stream straight into the temporary file the applier swaps in (the image
  // is never in memory); a payload that does not decode fails the stream, and so the restore,
  // before anything is swapped.
  const { payload } = message;
  const inMemory = ctx.databasePath === ':memory:' || ctx.databasePath === '';
  const directory = inMemory ? tmpdir() : dirname(ctx.databasePath);
  const small = payload instanceof Uint8Array ? smallImage(payload, ctx.maxSnapshotBytes) : null;
  if (small !== null) {
    requireFreeSpaceSync(
      directory,
      2 * small.byteLength + ctx.diskReserveBytes,
      `a snapshot image of ${small.byteLength} bytes to swap in`,
    );
  }
  const image =
    small ??
    withFreeSpace(
      streamSnapshotImage(payload instanceof Uint8Array ? payload : payload.read(), {
        maxSnapshotBytes: ctx.maxSnapshotBytes,
      }),
      directory,
      ctx.diskReserveBytes,
    );
  const tracker = ctx.stateRoot;
  let bytes: number;
  try {
    ({ bytes } = await restoreSnapshot(ctx.db, image, {
      ...(inMemory ? {} : { tempDir: dirname(ctx.databasePath) }),
      maxBytes: ctx.maxSnapshotBytes,
      keepTable: isReservedName,
      ...(tracker === undefined ? {} : { onImage: (path: string) => tracker.imageReady(path) }),
      beforeCommit: () => {
        ctx.state.recordApplied(message.sequence, message.timestamp, {
          startSequence: ctx.startSequence,
        });
        if (tracker === undefined) return;
        // The new content, from scratch (O(database), as the swap itself), in the swap's transaction.
        tracker.recompute();
        ctx.onStateRoot?.({
          sequence: message.sequence,
          timestamp: message.timestamp,
          messageType: MessageType.Snapshot,
          messageHash: message.messageHash,
          stateRoot: () => tracker.root(),
          state: ctx.state,
          db: ctx.db,
        });
        tracker.persist(message.sequence);
      },
    }));
  } catch (error) {
    tracker?.reload();
    throw error;
  } finally {
    if (!(payload instanceof Uint8Array)) await payload.discard();
  }
  return bytes;
}

/**
 * Snapshot payloads (compressed, and decompressed) up to this size are decompressed and decoded in
 * memory, and restored without a trip through the event loop or the thread pool (a schema-only
 * bootstrap snapshot is a few KiB). The streaming path's awaits cost 10-50 ms for such a snapshot
 * while prefetched batches keep the applying thread and the libuv pool busy, against ~3 ms of work.
 */
const SMALL_IMAGE_BYTES = 1024 * 1024;
/** Room for the request's fields around a small image (keys, ids, the attestation token). */
const SMALL_FIELDS_BYTES = 64 * 1024;

/**
 * The image of a small payload (see `SMALL_IMAGE_BYTES`) decoded in memory, with the same checks
 * and errors as `streamSnapshotImage` (`DecompressionError`, `DecompressionLimitError` over
 * `maxSnapshotBytes`, the payload decoder's errors); null for a payload that is not small, which
 * is streamed.
 */
function smallImage(payload: Uint8Array, maxSnapshotBytes: number): Uint8Array | null {
  if (payload.byteLength > SMALL_IMAGE_BYTES) return null;
  const cap = Math.min(maxSnapshotBytes, SMALL_IMAGE_BYTES + SMALL_FIELDS_BYTES);
  let cbor: Uint8Array;
  try {
    cbor = zstdDecompress(payload, { maxOutputBytes: cap });
  } catch (error) {
    if (error instanceof DecompressionLimitError && cap < maxSnapshotBytes) return null;
    throw error;
  }
  const { data } = decodeSnapshotRequest(cbor).snapshot;
  return data.byteLength > SMALL_IMAGE_BYTES ? null : data;
}

/** Free space is checked again after this many bytes of the image are written. */
const CHECK_EVERY_BYTES = 256 * 1024 * 1024;

/**
 * The image's chunks, with the disk's free space checked as they are written to the temporary
 * file: at the start and every 256 MiB it must keep the reserve, and once the image is complete
 * it must have room for the image again (the swap copies it into the replica) and the reserve.
 * Failing here fails the restore before the swap, as a payload that does not decode does.
 */
async function* withFreeSpace(
  image: AsyncIterable<Uint8Array>,
  directory: string,
  reserveBytes: number,
): AsyncGenerator<Uint8Array> {
  const what = 'a snapshot image';
  let bytes = 0;
  let nextCheck = 0;
  for await (const chunk of image) {
    if (bytes >= nextCheck) {
      await requireFreeSpace(directory, reserveBytes + chunk.length, what);
      nextCheck = bytes + CHECK_EVERY_BYTES;
    }
    bytes += chunk.length;
    yield chunk;
  }
  await requireFreeSpace(directory, bytes + reserveBytes, `${what} of ${bytes} bytes to swap in`);
}
