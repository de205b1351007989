import type { ColumnValue } from '../types';

/** Changes per sorted chunk (bounds the decoded values held at once). */
export const CHUNK_CHANGES = 262_144;

/** The sorted path's working arrays, reused between chunks and applies. */
export class ChunkScratch {
  cap = 1024;
  /** Per change of the chunk: its offset, sort key, UPDATE mask (base 4), operation. */
  starts = new Float64Array(this.cap);
  keys = new Float64Array(this.cap);
  masks = new Float64Array(this.cap);
  ops = new Uint8Array(this.cap);
  /** Per change: its group; and the changes' indexes by group (see ChunkPlan). */
  gid = new Int32Array(this.cap);
  grouped = new Int32Array(this.cap);
  /** UPDATE masks of tables with more than 26 columns (one character per column). */
  wide: string[] = [];
  /** The primary-key values of the change being scanned, by column. */
  readonly keyValues: ColumnValue[] = [];
  /** Per column of the UPDATE being scanned: 2 = old value carried, +1 = new value carried. */
  readonly maskCodes: number[] = [];
  /** A group's statement parameters, and its UPDATE records when not decoded into slots. */
  readonly params: ColumnValue[] = [];
  readonly oldValues: ColumnValue[] = [];
  readonly newValues: ColumnValue[] = [];
  readonly oldSlot: number[] = [];
  readonly newSlot: number[] = [];
  /** Sink of the group touch loop (keeps the loads from being optimised away). */
  touchSink = 0;

  grow(): void {
    const cap = Math.min(this.cap * 2, CHUNK_CHANGES);
    const more = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.starts = more(this.starts, (c) => new Float64Array(c));
    this.keys = more(this.keys, (c) => new Float64Array(c));
    this.masks = more(this.masks, (c) => new Float64Array(c));
    this.ops = more(this.ops, (c) => new Uint8Array(c));
    this.gid = new Int32Array(cap);
    this.grouped = new Int32Array(cap);
    this.cap = cap;
  }
}

/**
 * One scratch set is kept; a nested apply (from a conflict handler) gets its own. A set grown
 * past 65,536 changes (up to ~8.7 MB) is kept only through a WeakRef: the next large chunk reuses
 * it unless a full GC reclaimed it, so an occasional huge changeset does not pin memory, and a
 * stream of them does not allocate, zero and regrow ~17 MB of typed arrays each.
 */
let spareScratch: ChunkScratch | undefined;
let largeScratch: WeakRef<ChunkScratch> | undefined;

export function takeChunkScratch(): ChunkScratch {
  const large = largeScratch?.deref();
  if (large) {
    largeScratch = undefined;
    return large;
  }
  const sc = spareScratch ?? new ChunkScratch();
  spareScratch = undefined;
  return sc;
}

/** Returns a scratch set. Its value arrays are emptied: a BLOB view would pin the changeset. */
export function releaseChunkScratch(sc: ChunkScratch): void {
  sc.wide.length = 0;
  sc.keyValues.length = 0;
  sc.params.length = 0;
  sc.oldValues.length = 0;
  sc.newValues.length = 0;
  if (sc.cap <= 65_536) spareScratch = sc;
  else largeScratch = new WeakRef(sc);
}
