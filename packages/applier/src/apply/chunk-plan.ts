import {
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  TABLE_CHANGESET,
  TABLE_PATCHSET,
} from '../changeset/reader';
import { scanRecordKeys } from '../changeset/scan-record-keys';
import { pkColumnOrder } from '../changeset/table-header';
import type { ApplyContext } from './apply-context';
import { distinctWithinTies, exactKey, keyComparable } from './chunk-keys';
import { CHUNK_CHANGES, type ChunkScratch } from './chunk-scratch';

// Planning a sorted chunk: which changes at the cursor may be reordered, and in what order they
// run. Up to CHUNK_CHANGES consecutive changes of a "simple" table (no triggers, foreign keys,
// secondary UNIQUE indexes or REPLACE clauses) whose primary keys are pairwise distinct and
// exactly comparable in JS touch distinct rows, and no change's outcome depends on another's:
// they can run grouped by operation and sorted by key (B-tree locality) as multi-row
// statements. chunk-apply.ts runs the plan.

/** Below this, a chunk is not worth a savepoint; the run path handles it. */
const PARTITION_MIN_CHANGES = 8;

/** How the chunk at the cursor runs; its per-change arrays live in the ChunkScratch. */
export interface ChunkPlan {
  /** Changes in the chunk (sc.starts[0 .. count - 1]). */
  count: number;
  deletes: number;
  updates: number;
  /**
   * Change indexes by group, each group in key order: group 0 the DELETEs, group 1 the
   * INSERTs, group g >= 2 the UPDATEs of masks[g]. Group g is grouped[bounds[g]] ..
   * grouped[bounds[g + 1] - 1].
   */
  grouped: Int32Array;
  bounds: Int32Array;
  masks: string[];
  /** Offset after the chunk's last change. */
  end: number;
}

/** What the scan learnt about the chunk's keys (in sc.keys). */
interface KeyScan {
  count: number;
  updates: number;
  min: number;
  max: number;
  /** Every sort key is a number (else the chunk keeps changeset order, grouped only). */
  sortable: boolean;
  /** Every sort key is a safe integer (a counting sort applies when they are dense). */
  denseInts: boolean;
}

/**
 * Plans the chunk at the cursor, in sc. Returns undefined (cursor unchanged) when it does not
 * qualify; else the cursor is after the chunk.
 */
export function planChunk(ctx: ApplyContext, sc: ChunkScratch): ChunkPlan | undefined {
  const r = ctx.reader;
  const chunkStart = r.pos;
  const s = ctx.section;
  const pkOrder = pkColumnOrder(s.pk);
  const keyClass = s.table!.keyClass;
  const single = pkOrder.length === 1;
  const firstPk = pkOrder[0]!;
  // A single integer primary key: duplicates are found after sorting, no Set needed.
  const intMode = single && (keyClass[firstPk]! & 1) === 1;
  // Composite keys led by a numbers-only column: no Set of composite key strings (most of the
  // scan's time); after sorting by the first column, only changes that share its value are
  // compared exactly.
  const numLead = !single && keyClass[firstPk] === 1;
  const scan = scanChunk(ctx, sc, pkOrder, keyClass, intMode, numLead);
  const order =
    scan !== undefined && scan.count >= PARTITION_MIN_CHANGES
      ? orderByKey(sc, scan, intMode)
      : undefined;
  if (
    scan === undefined ||
    order === undefined ||
    (numLead &&
      !distinctWithinTies(
        r,
        s.columns,
        s.pk,
        sc.keyValues,
        order,
        sc.keys,
        scan.count,
        sc.starts,
        pkOrder,
        keyClass,
      ))
  ) {
    r.pos = chunkStart;
    return undefined;
  }
  return groupByOperation(sc, scan, order, s.columns, r.pos);
}

/**
 * Reads the chunk's keys and shapes: per change its offset, operation, sort key (the first key
 * column as a number) and UPDATE mask. Only primary keys are decoded; other values are stepped
 * over (decoded later, in key order). Undefined when a change disqualifies the chunk.
 */
function scanChunk(
  ctx: ApplyContext,
  sc: ChunkScratch,
  pkOrder: number[],
  keyClass: Uint8Array,
  intMode: boolean,
  numLead: boolean,
): KeyScan | undefined {
  const r = ctx.reader;
  const buf = r.buf;
  const end = r.end;
  const s = ctx.section;
  const n = s.columns;
  const pk = s.pk;
  const single = pkOrder.length === 1;
  const firstPk = pkOrder[0]!;
  const keyValues = sc.keyValues;
  const codes = sc.maskCodes;
  const wideMasks = n > 26;
  let seen: Set<unknown> | undefined;
  let sortable = true;
  let denseInts = true;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let count = 0;
  let updates = 0;
  while (r.pos < end && count < CHUNK_CHANGES) {
    const start = r.pos;
    const op = buf[start]!;
    if (op === TABLE_CHANGESET || op === TABLE_PATCHSET) break;
    if (op !== OP_INSERT && op !== OP_UPDATE && op !== OP_DELETE) return undefined;
    if (start + 1 >= end || buf[start + 1]! > 1) return undefined;
    const upd = op === OP_UPDATE;
    r.pos = start + 2;
    if (!scanRecordKeys(r, n, pk, keyValues, upd ? codes : undefined)) return undefined;
    if (count === sc.cap) sc.grow();
    if (upd) {
      let sets = 0;
      for (let i = 0; i < n; i++) {
        if (r.pos >= end) return undefined;
        if (buf[r.pos] !== 0) {
          if (pk[i] !== 0) return undefined; // rewrites the primary key
          codes[i]! += 1;
          sets++;
        }
        r.skipRaw();
      }
      if (sets === 0) return undefined;
      if (!wideMasks) {
        let m = 0;
        for (let i = n - 1; i >= 0; i--) m = m * 4 + codes[i]!;
        sc.masks[count] = m;
      } else {
        let m = '';
        for (let i = 0; i < n; i++) m += String.fromCharCode(48 + codes[i]!);
        sc.wide[count] = m;
      }
      updates++;
    }
    const fv = keyValues[firstPk];
    let k: number;
    if (intMode) {
      if (typeof fv === 'number' && Number.isSafeInteger(fv)) k = fv;
      else if (typeof fv === 'bigint' && fv >= -9007199254740991n && fv <= 9007199254740991n)
        k = Number(fv);
      else return undefined;
      if (k < min) min = k;
      if (k > max) max = k;
    } else {
      if (numLead) {
        if (!keyComparable(keyValues, pkOrder, keyClass)) return undefined;
        if (typeof fv === 'number') k = fv;
        else if (typeof fv === 'bigint') k = Number(fv);
        else return undefined;
        if (!Number.isFinite(k)) return undefined;
      } else {
        const key = exactKey(keyValues, pkOrder, keyClass, single);
        if (key === undefined) return undefined;
        seen ??= new Set();
        if (seen.has(key)) return undefined;
        seen.add(key);
        k = 0;
        if (typeof fv === 'number') k = fv;
        else if (typeof fv === 'bigint') k = Number(fv);
        else sortable = false;
      }
      if (!Number.isSafeInteger(k)) denseInts = false;
      else {
        if (k < min) min = k;
        if (k > max) max = k;
      }
    }
    sc.keys[count] = k;
    sc.starts[count] = start;
    sc.ops[count] = op;
    count++;
  }
  return { count, updates, min, max, sortable, denseInts };
}

/**
 * The chunk's changes by the first primary-key column (B-tree locality); in intMode, also
 * undefined when a key appears twice.
 */
function orderByKey(
  sc: ChunkScratch,
  scan: KeyScan,
  intMode: boolean,
): ArrayLike<number> | undefined {
  const { count, min, max, sortable, denseInts } = scan;
  const keys = sc.keys;
  if (intMode && max - min <= 4 * count + 1024) {
    // counting sort over a dense integer range
    const slots = new Int32Array(max - min + 1).fill(-1);
    for (let i = 0; i < count; i++) {
      const s = keys[i]! - min;
      if (slots[s] !== -1) return undefined;
      slots[s] = i;
    }
    const o = new Int32Array(count);
    let k = 0;
    for (let s = 0; s < slots.length; s++) if (slots[s]! !== -1) o[k++] = slots[s]!;
    return o;
  }
  if (!intMode && sortable && denseInts && max - min <= 4 * count + 1024) {
    // stable counting sort (first key column only; equal keys keep changeset order)
    const pos = new Int32Array(max - min + 2);
    for (let i = 0; i < count; i++) pos[keys[i]! - min + 1]!++;
    for (let s = 1; s < pos.length; s++) pos[s]! += pos[s - 1]!;
    const o = new Int32Array(count);
    for (let i = 0; i < count; i++) o[pos[keys[i]! - min]!++] = i;
    return o;
  }
  let o: Int32Array | number[];
  if (sortable && denseInts && max - min < 2 ** 34) {
    // sparse integer keys (e.g. updates spread over a large table): sort (key - min) *
    // CHUNK_CHANGES + index, exact in a double (< 2^53), with the typed array's numeric sort
    // instead of a comparator sort; the index keeps it stable
    const packed = new Float64Array(count);
    for (let i = 0; i < count; i++) packed[i] = (keys[i]! - min) * CHUNK_CHANGES + i;
    packed.sort();
    o = new Int32Array(count);
    for (let j = 0; j < count; j++) o[j] = packed[j]! % CHUNK_CHANGES;
  } else {
    o = Array.from({ length: count }, (_, i) => i);
    if (sortable) o.sort((a, b) => keys[a]! - keys[b]!);
  }
  if (intMode) {
    for (let i = 1; i < count; i++) if (keys[o[i]!] === keys[o[i - 1]!]) return undefined;
  }
  return o;
}

/**
 * Groups the ordered changes by operation (stable, so each group stays in key order): the
 * DELETEs, the INSERTs, and the UPDATEs of each mask in order of first appearance.
 */
function groupByOperation(
  sc: ChunkScratch,
  scan: KeyScan,
  order: ArrayLike<number>,
  columns: number,
  end: number,
): ChunkPlan {
  const { count, updates } = scan;
  const ops = sc.ops;
  const gid = sc.gid;
  const maskGroups = new Map<number | string, number>();
  const masks: string[] = ['', ''];
  const wideMasks = columns > 26;
  for (let i = 0; i < count; i++) {
    const op = ops[i]!;
    if (op === OP_DELETE) gid[i] = 0;
    else if (op === OP_INSERT) gid[i] = 1;
    else {
      const mk = wideMasks ? sc.wide[i]! : sc.masks[i]!;
      let g = maskGroups.get(mk);
      if (g === undefined) {
        g = masks.length;
        maskGroups.set(mk, g);
        masks.push(typeof mk === 'string' ? mk : maskString(mk, columns));
      }
      gid[i] = g;
    }
  }
  const groups = masks.length;
  const bounds = new Int32Array(groups + 1);
  for (let i = 0; i < count; i++) bounds[gid[i]! + 1]!++;
  for (let g = 1; g <= groups; g++) bounds[g]! += bounds[g - 1]!;
  const fill = bounds.slice(0, groups);
  const grouped = sc.grouped;
  for (let j = 0; j < count; j++) {
    const i = order[j]!;
    grouped[fill[gid[i]!]!++] = i;
  }
  return { count, deletes: bounds[1]! - bounds[0]!, updates, grouped, bounds, masks, end };
}

/** A base-4 mask (scanChunk) as the one-character-per-column mask of the statements. */
function maskString(mask: number, columns: number): string {
  let s = '';
  for (let i = 0; i < columns; i++) s += String.fromCharCode(48 + (Math.floor(mask / 4 ** i) % 4));
  return s;
}
