/**
 * A job for the UPDATE resolver's worker: one group's changesets, copied into one buffer (moved to
 * the worker), and the shared memory the results come back in.
 *
 * `shared` starts with HEADER_BYTES of Int32 (indexes below), then slot k's 1024 lanes at
 * HEADER_BYTES + k * SLOT_BYTES.
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
  data: ArrayBuffer;
  /** Per changeset: start and end in `data`, start and end in `positions` (equal: none). */
  bounds: Uint32Array;
  positions: ArrayBuffer;
  shared: SharedArrayBuffer;
}

/** Slots done: the worker stores slot + 1 after writing a slot's lanes, then notifies. */
export const SLOTS_DONE = 0;
/** 1: the worker failed; the rest of the group is not resolved. */
export const FAILED = 1;
/** 1: the job ended without its group committing as walked (the worker stops, and starts over). */
export const CANCELLED = 2;
/**
 * Changesets the applying thread has started to apply: the worker walks changeset c only once
 * c < this, so it never works ahead on changesets the group may not reach.
 */
export const STARTED = 3;
/** Committed changesets + 1: the group committed (the worker stops at this many). 0: not yet. */
export const COMMITTED = 4;
/** 1 while the worker waits on STARTED: only then does the applying thread notify it. */
export const WAITING = 5;

export const HEADER_BYTES = 32;
export const SLOT_BYTES = 2048;

/**
 * The state hash of a snapshot's image file (`stateHashOfDatabase`), computed while the applying
 * thread swaps it in. `shared`: HEADER_BYTES of Int32 ([SLOTS_DONE] 1 when done, [FAILED] 1 on
 * failure, [PROGRESS] a heartbeat every 16,384 rows), then the 1024 lanes.
 */
export interface ImageHashMessage {
  kind: 'image';
  path: string;
  shared: SharedArrayBuffer;
}

export const PROGRESS = 2;
