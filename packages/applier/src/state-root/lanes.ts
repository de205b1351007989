/** Lanes of the LtHash16 state: 1024 lanes of 16 bits (2048 bytes), as in the LtHash paper. */
export const LTHASH_LANES = 1024;
/** Bytes of an LtHash16 state and of one element's hash (the XOF's output length). */
export const LTHASH_BYTES = LTHASH_LANES * 2;

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Adds (or subtracts) an XOF output's 1024 little-endian lanes to `lanes`, mod 2^16 per lane,
 * straight from the digest bytes (no copy into a lane array first).
 */
export function addDigestLanes(lanes: Uint16Array, digest: Uint8Array, subtract: boolean): void {
  if (LITTLE_ENDIAN && (digest.byteOffset & 1) === 0) {
    const d = new Uint16Array(digest.buffer, digest.byteOffset, LTHASH_LANES);
    if (subtract) for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! - d[i]!;
    else for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! + d[i]!;
    return;
  }
  for (let i = 0; i < LTHASH_LANES; i++) {
    const x = digest[2 * i]! | (digest[2 * i + 1]! << 8);
    lanes[i] = subtract ? lanes[i]! - x : lanes[i]! + x;
  }
}

/**
 * Adds many elements' hashes at once: `add` copies each element into the kernel's input area,
 * the kernel hashes them a few thousand at a time (one call per run) and sums their lanes
 * itself; `finish` adds the sum to `lanes`. There is one per thread and kernel
 * (`elementLaneBatch()`); `begin` drops whatever an unfinished batch held (e.g. one abandoned by
 * an exception), so a batch must be finished before another begins.
 */
export interface ElementLaneBatch {
  begin(): void;
  /** Queues one element (copied at once: `element` may be reused after the call). */
  add(element: Uint8Array, subtract: boolean): void;
  /** Adds the batch's sum (mod 2^16 per lane) to `lanes` and empties the batch. */
  finish(lanes: Uint16Array): void;
  /** The batch's sum as a new lane array, and empties the batch. */
  take(): Uint16Array;
}

/** One implementation of the element hash (the BLAKE3 XOF to 2048 bytes) and its batch. */
export interface LaneKernel {
  readonly name: StateRootKernelName;
  /** The element's 2048 XOF bytes, in a buffer of the kernel's overwritten by the next call. */
  xof(element: Uint8Array): Uint8Array;
  readonly batch: ElementLaneBatch;
  /**
   * A changeset's delta in one native pass (`changesetStateDelta`'s raw pass in C): its INSERT and
   * DELETE lanes, and two offsets per UPDATE of a state table (its table header's, its record's).
   * undefined when the pass does not take the input (a patchset, anything malformed or unusual):
   * the JavaScript pass then decides. Absent from kernels without one (WebAssembly).
   */
  changesetDelta?(changeset: Uint8Array, into?: Uint16Array): NativeChangesetDelta | undefined;
  /**
   * A new native UPDATE overlay (`GroupUpdateResolver`'s walk in C) keeping at most `maxBytes` of
   * row versions; absent from WebAssembly.
   */
  updateOverlay?(maxBytes: number): NativeUpdateOverlay;
  /**
   * Opens a database file to read its rows' elements straight from its pages
   * (native/image-rows.h); undefined when the file is not read that way. Absent from WebAssembly.
   */
  openImage?(path: string): NativeImageFile | undefined;
}

/** `NativeImageFile#rows`'s arguments (the addon's `imageRows` takes its handle first). */
export type ImageRowsArgs = [
  rootPage: number,
  from: bigint,
  to: bigint,
  prefix: Uint8Array,
  flags: Uint8Array,
  out: Uint8Array,
  descriptors: Uint32Array,
  state: BigInt64Array,
];

/**
 * A database file mapped by the native kernel (native/image-rows.h): a complete file nobody
 * writes while it is open and that has no WAL content (a snapshot image). One thread uses it.
 */
export interface NativeImageFile {
  /**
   * The elements of the rows of the table B-tree at `rootPage` whose rowid is in `[from, to]`, in
   * rowid order, written into `out` (`descriptors`: offset and length of each): `prefix` is the
   * element's start (domain, table name, column count), `flags` one byte per column (1: REAL
   * affinity, 2: the rowid alias). Returns how many; `state[1]` is 1 when `out` or `descriptors`
   * filled up first (`state[0]`: the rowid to go on from). Negative: `IMAGE_NOT_TAKEN` (nothing of
   * the call counts), `IMAGE_TOO_SMALL` (`out` cannot hold the first element, of `state[0]`
   * bytes).
   */
  rows(...args: ImageRowsArgs): number;
  /** `lanes` += the lanes of the `count` elements `rows` wrote. */
  accumulate(out: Uint8Array, descriptors: Uint32Array, count: number, lanes: Uint16Array): void;
  /** Unmaps the file. */
  close(): void;
}

export const IMAGE_NOT_TAKEN = -1;
export const IMAGE_TOO_SMALL = -2;

/**
 * The native UPDATE overlay (native/update-overlay.h): the rows of the followed tables changed
 * since a read snapshot, as elements, keyed by (table, primary key), in memory of the addon's.
 */
export interface NativeUpdateOverlay {
  /** Follows the table (any ASCII case) from now on. */
  follow(table: string): void;
  /** Forgets every row and table. */
  clear(): void;
  /** Takes the last walk back; false when there is nothing to take back. */
  undo(): boolean;
  /** Rows kept, and bytes of their elements and keys. */
  stats(): { rows: number; bytes: number };
  /**
   * The UPDATEs of followed tables that leave columns out of a row the overlay does not have
   * (table header and record offset pairs; a view valid until the next call), or a negative code.
   */
  missing(changeset: Uint8Array): Uint32Array | number;
  /** Keeps each listed UPDATE's row (`pairs`, from `missing`) as the snapshot has it. 0 or a code. */
  preload(
    changeset: Uint8Array,
    pairs: Uint32Array,
    elements: Uint8Array,
    descriptors: Uint32Array,
  ): number;
  /**
   * Keeps rows of `table` (followed from now on) as a snapshot has them, from their elements
   * alone (`descriptors`: offset and length of each of `count`); the key is the element's
   * `keyColumns`, in that order. 0 or a code.
   */
  preloadRows(
    table: string,
    keyColumns: Uint32Array,
    elements: Uint8Array,
    descriptors: Uint32Array,
    count: number,
  ): number;
  /**
   * Walks a changeset: the overlay follows its changes; the UPDATEs at `positions` add their
   * lanes to `lanes`. 0 or a code (OVERLAY_* in group-update-resolver.ts; past `maxBytes` of row
   * versions: too large).
   */
  walk(changeset: Uint8Array, positions: Uint32Array | null, lanes: Uint16Array | null): number;
}

export interface NativeChangesetDelta {
  lanes: Uint16Array;
  /** Header and record offsets per UPDATE (a view of a buffer of the kernel's: copy to keep). */
  positions: Uint32Array;
}

/**
 * The kernels: `avx512` and `avx2` are the native addon's levels (x86-64 Linux with glibc),
 * `wasm` the WebAssembly SIMD kernel every platform has.
 */
export type StateRootKernelName = 'avx512' | 'avx2' | 'wasm';
