/**
 * A job for the UPDATE resolver's worker: one group's changesets and the UPDATEs' positions,
 * copied into shared memory the applying thread reuses from job to job (no allocation per group:
 * per-group buffers made the garbage collector run), and the results' place in the same memory.
 * `shared` is laid out by `jobLayout`: HEADER_BYTES of Int32 (indexes below), slot k's 1024 lanes,
 * then per changeset four Uint32 (start and end in the data, start and end in the positions;
 * equal: none), the positions (Uint32 pairs), the changesets' bytes (each from an 8-byte boundary).
 */
export interface ResolverJobMessage {
  kind: 'group';
  epoch: number;
  /**
   * The applying thread applied nothing since the previous job but what that job's group
   * committed: the worker may keep its snapshot and overlay (if that job ended committed, with
   * every changeset it walked).
   */
  continuation: boolean;
  /** The CPU the applying thread ran on when it posted the job (-1: unknown): see `leaveCpu`. */
  cpu: number;
  shared: SharedArrayBuffer;
  slots: number;
  changesets: number;
  positions: number;
  bytes: number;
}

export interface JobLayout {
  lanes: number;
  bounds: number;
  positions: number;
  data: number;
  end: number;
}

/** Where each part of a job is in its shared memory (byte offsets, Uint32-aligned). */
export function jobLayout(
  slots: number,
  changesets: number,
  positions: number,
  bytes: number,
): JobLayout {
  const lanes = HEADER_BYTES;
  const bounds = lanes + slots * SLOT_BYTES;
  const positionsAt = bounds + changesets * 16;
  // 8-byte aligned: a copy into shared memory is several times slower from an unaligned start
  const data = (positionsAt + positions * 4 + 7) & ~7;
  return { lanes, bounds, positions: positionsAt, data, end: data + bytes };
}

/** Slots done: the worker stores slot + 1 after writing a slot's lanes, then notifies. */
export const SLOTS_DONE = 0;
/** 1: the worker failed; the rest of the group is not resolved. */
export const FAILED = 1;
/** 1: the job ended without its group committing as walked (the worker stops, and starts over). */
export const CANCELLED = 2;
/** Committed changesets + 1: the group committed (the worker stops at this many). 0: not yet. */
export const COMMITTED = 4;
/**
 * 1 once the worker has read how the job ended (when the next job starts, or when it lets its
 * snapshot go): the applying thread may then reuse the job's shared memory.
 */
export const RELEASED = 6;
/** Bumped by the worker after every slot, a failure or a heartbeat: what the applying thread waits on. */
export const TO_APPLIER = 8;

export const HEADER_BYTES = 64;
export const SLOT_BYTES = 2048;

/**
 * The state hash of a snapshot's image file, computed while the applying thread swaps it in, in
 * the chunks of `stateHashChunks` (the same file gives both threads the same chunks), which the
 * worker and then the applying thread too (once it has swapped the image in and would otherwise
 * wait) take in turn from a shared counter. `shared`: HEADER_BYTES of Int32 ([SLOTS_DONE] 1 when
 * the worker's share is done, [FAILED] 1 on failure, [PROGRESS] a heartbeat per chunk and every
 * 16,384 rows, [NEXT_CHUNK] the next chunk to take, [PLAN] the worker's chunk count + 1), then
 * the 1024 lanes of the worker's share.
 */
export interface ImageHashMessage {
  kind: 'image';
  path: string;
  shared: SharedArrayBuffer;
  /** Told apart from other images (the overlay holds the rows of one). */
  id: number;
  /**
   * The epoch of the jobs once the image is swapped in: the worker starts its overlay over with
   * the rows it hashes (the replica's content once the swap commits), for the first of them to go
   * on with, if the applying thread says so (`continuation`: the swap committed, nothing else).
   */
  epoch: number;
  /** As in a group's job: the applying thread's CPU. */
  cpu: number;
}

/** Rows and element bytes of an image kept in the worker's overlay at most (below its bounds). */
export const IMAGE_ROWS_MAX = 200_000;
export const IMAGE_ROW_BYTES_MAX = 48 * 1024 * 1024;

export const PROGRESS = 2;
export const NEXT_CHUNK = 3;
export const PLAN = 4;
