import { dirname } from 'node:path';
import { restoreSnapshot } from '@synddb/applier';
import { MessageType, streamSnapshotImage } from '@synddb/protocol';
import { isReservedName, type StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';
import type { PreparedMessage } from './prepare-batch';
import type { StateRootHandler, StateRootTracker } from './state-root-tracker';

export interface RestoreSnapshotContext {
  db: Database;
  /** Path of the replica file; the image is spooled next to it. `:memory:` spools to the OS temp dir. */
  databasePath: string;
  state: StateStore;
  maxSnapshotBytes: number;
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
  // The payload is decompressed as a stream straight into the temporary file the applier swaps
  // in (the image is never in memory); a payload that does not decode fails the stream, and so
  // the restore, before anything is swapped.
  const image = streamSnapshotImage(message.payload, { maxSnapshotBytes: ctx.maxSnapshotBytes });
  const inMemory = ctx.databasePath === ':memory:' || ctx.databasePath === '';
  const tracker = ctx.stateRoot;
  let bytes: number;
  try {
    ({ bytes } = await restoreSnapshot(ctx.db, image, {
      ...(inMemory ? {} : { tempDir: dirname(ctx.databasePath) }),
      maxBytes: ctx.maxSnapshotBytes,
      keepTable: isReservedName,
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
  }
  return bytes;
}
