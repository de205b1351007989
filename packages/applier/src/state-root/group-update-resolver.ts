import type { Database, Statement } from 'better-sqlite3';
import { readCommonValue, readIndirect } from '../changeset/read-record';
import { OP_DELETE, OP_INSERT, OP_UPDATE, Reader, TABLE_CHANGESET } from '../changeset/reader';
import { readTableHeader } from '../changeset/table-header';
import { ChangesetFormatError } from '../errors';
import { type ColumnValue, ValueType } from '../types';
import type { NativeUpdateOverlay } from './lanes';
import { asciiLower, elementColumnOffsets, RowElementWriter } from './row-element';
import { elementLaneBatch, nativeUpdateOverlay } from './state-root-kernel';

/**
 * A group of changesets about to be applied one after the other, and the UPDATEs among them to
 * resolve (those that leave columns out: `changesetStateDelta(c, { decodeUpdates: false })`'s
 * `undecodedUpdates.positions`, header and record offset per UPDATE).
 */
export interface GroupUpdateJob {
  /** Every changeset of the group, in the order they are applied. */
  changesets: readonly Uint8Array[];
  /** Per changeset: its UPDATEs to resolve, or null (none). Each non-null entry is a slot. */
  positions: readonly (Uint32Array | null)[];
}

/** Per table with UPDATEs to resolve: the rows the group has touched, the reads of a row. */
interface TableState {
  /**
   * The rows changed so far, by key (#keyAt): where their element is in the resolver's arena
   * (one buffer for every row: no object per row for the garbage collector), or -1 (deleted).
   */
  overlay: Map<RowKey, number>;
  columns: number;
  /** Primary-key column indexes in key order. */
  keyColumns: number[];
  /** Read from the schema when first needed (rows preloaded before a swap see the new one). */
  shape: TableShape | undefined;
  name: string;
  /**
   * Rows read ahead for the current changeset's UPDATEs (`#prefetch`), by one-column INTEGER key:
   * the key, then the columns of `prefetchMask` ('1' per column read).
   */
  prefetched: Map<number, unknown[]>;
  prefetchMask: string;
}

/** A table's columns and its reads by primary key, cached until `reset()`. */
interface TableShape {
  /** Quoted column names ([] when the table does not exist). */
  names: string[];
  quotedTable: string;
  keyColumns: number[];
  /** SELECT of the columns an UPDATE leaves out, by which ones ('1' per left-out column). */
  selects: Map<string, Statement>;
  /** The same for PREFETCH keys at once (`key IN (...)`, the key first), by the same masks. */
  batchSelects: Map<string, Statement>;
}

/** Keys per statement when rows are read ahead. */
const PREFETCH = 64;

type RowKey = number | string;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Thrown when an UPDATE's row is neither in the group's overlay nor in the replica. */
export class UnresolvableUpdateError extends Error {
  override name = 'UnresolvableUpdateError';
}

export interface GroupUpdateResolverOptions {
  /**
   * Keep the overlay and walk the changesets in the native addon (native/update-overlay.h) when
   * this thread's state-root kernel is native (default true): the same lanes, several times less
   * CPU per UPDATE. The rows the overlay does not have are read here either way.
   */
  native?: boolean | undefined;
  /**
   * Row versions the overlay keeps at most (each UPDATE of a row keeps a new one until `clear()`):
   * past it `resolve` throws UnresolvableUpdateError and the caller resolves otherwise (a wide row
   * updated again and again). Default 256 MiB.
   */
  maxOverlayBytes?: number | undefined;
}

/** The native walk's answers (native/update-overlay.h). */
const OVERLAY_MALFORMED = -1;
const OVERLAY_ROW_DELETED = -4;
const OVERLAY_ROW_MISSING = -5;
const OVERLAY_BAD_ROW = -7;
const OVERLAY_TOO_LARGE = -8;

/**
 * Resolves the UPDATEs of a group of changesets **before** they are applied, against a read
 * connection whose snapshot is the replica as it was before the group (for example a second
 * connection in WAL mode, on another thread, while the writer applies the group): the
 * changesets are walked in order, and every change to a table with such UPDATEs (an INSERT, a
 * DELETE, an UPDATE earlier in the group) is kept in an overlay, so each UPDATE sees its row as
 * the group has left it when it applies (one pass: a slot is ready as soon as the walk reaches
 * its end). Its lanes are the same as those
 * `applyStateDelta` computes after the apply (the changeset's values where it has them, the
 * row's elsewhere), provided each changeset applies as it is written: an apply that conflicts,
 * omits or replaces a change makes the rest of the group's lanes wrong, and the caller must
 * then resolve against the replica itself.
 */
export class GroupUpdateResolver {
  readonly #db: Database;
  readonly #writer = new RowElementWriter();
  #tables = new Map<string, TableState>();
  #shapes = new Map<string, TableShape>();
  #rows = 0;
  #arena = new Uint8Array(1 << 16);
  #arenaUsed = 0;
  /** The last walked changeset's overlay changes (table, key, value before), -1: none to undo. */
  #undoLength = -1;
  readonly #undoTables: (TableState | undefined)[] = [];
  readonly #undoKeys: RowKey[] = [];
  readonly #undoPrevious: number[] = [];
  /** Whether a changeset was walked since `clear()`. */
  #walked = false;
  /** The overlay in the native addon, when used (then the tables' `overlay` maps stay empty). */
  readonly #native: NativeUpdateOverlay | undefined;
  /** The rows read for the native overlay: their elements, and offset and length of each. */
  #preloadBytes = new Uint8Array(1 << 16);
  #preloadDescriptors = new Uint32Array(256);

  readonly #maxBytes: number;

  constructor(db: Database, options: GroupUpdateResolverOptions = {}) {
    this.#db = db;
    const max = options.maxOverlayBytes ?? 256 * 1024 * 1024;
    if (!(max >= 0)) throw new RangeError(`maxOverlayBytes must be non-negative, got ${max}`);
    this.#maxBytes = max;
    this.#native = options.native === false ? undefined : nativeUpdateOverlay(max);
  }

  /** Whether the overlay and the walk are the native addon's. */
  get native(): boolean {
    return this.#native !== undefined;
  }

  /**
   * Keeps rows of `table` in the overlay as the connection's snapshot has them, from their
   * elements alone (`RowElementWriter`'s bytes of every column: `descriptors` holds the offset and
   * length of each of `count` in `elements`), e.g. a snapshot image's rows just hashed, so that
   * the UPDATEs that follow need no read of them. `pkFlags`: the table's primary-key position per
   * column (as a changeset's header has them). Only with the native overlay: false (nothing kept)
   * with the JavaScript one. The caller keeps the overlay's rule: rows as they are now.
   */
  preloadRows(
    table: string,
    pkFlags: Uint8Array,
    elements: Uint8Array,
    descriptors: Uint32Array,
    count: number,
  ): boolean {
    const native = this.#native;
    if (native === undefined) return false;
    const state = this.#table(table, pkFlags.length, pkFlags);
    const result = native.preloadRows(
      table,
      Uint32Array.from(state.keyColumns),
      elements,
      descriptors,
      count,
    );
    if (result !== 0) throw refused(result, this.#maxBytes);
    this.#walked = true;
    return true;
  }

  /** Forgets cached statements and table shapes (after a schema change), and the overlay. */
  reset(): void {
    this.#shapes = new Map();
    this.clear();
  }

  /** Forgets the overlay: the next `resolve` starts from the connection's snapshot alone. */
  clear(): void {
    this.#native?.clear();
    this.#tables = new Map();
    this.#rows = 0;
    this.#arenaUsed = 0;
    this.#undoLength = -1;
    this.#undoTables.fill(undefined);
    if (this.#arena.byteLength > 1 << 24) this.#arena = new Uint8Array(1 << 16);
    this.#walked = false;
  }

  /** Rows in the overlay (every table). */
  get overlayRows(): number {
    return this.#native?.stats().rows ?? this.#rows;
  }

  /** Bytes of the overlay's elements (every version of every row kept since `clear()`). */
  get overlayBytes(): number {
    return this.#native?.stats().bytes ?? this.#arenaUsed;
  }

  /**
   * Whether the overlay follows every table with UPDATEs to resolve in `job`: true when nothing
   * was walked since it was last cleared, or when each such table was followed since then. `resolve` continues
   * an overlay only on these terms (a table followed from now on would miss its earlier changes).
   */
  follows(job: GroupUpdateJob): boolean {
    if (!this.#walked) return true;
    for (const name of this.#tablesOf(job)) if (!this.#tables.has(name.lower)) return false;
    return true;
  }

  /**
   * Resolves `job`: for each slot (a changeset with UPDATEs, in order) adds the UPDATEs' lanes
   * (old rows subtracted, new rows added, mod 2^16) into `lanesOf(slot)` and then calls
   * `done(slot)`; `done` returning false stops the walk, and so does `before(c)`. Throws
   * UnresolvableUpdateError when an UPDATE's row does not exist, ChangesetFormatError on
   * malformed input.
   *
   * The overlay is kept after the call: a later `resolve` on the same snapshot continues from
   * it, which is right only when every change committed since the snapshot (or since `clear()`)
   * was walked here, and only those (the caller's to know: a failed or partly applied group, a
   * change applied without this resolver, a new table followed: `clear()` and a new snapshot).
   */
  resolve(
    job: GroupUpdateJob,
    lanesOf: (slot: number) => Uint16Array,
    done: (slot: number) => boolean,
    /** Called before changeset `c` is walked; false stops the walk (e.g. to pace it). */
    before?: (c: number) => boolean,
  ): void {
    if (!this.follows(job)) throw new Error('the overlay does not follow every table of the job');
    for (const t of this.#tablesOf(job)) this.#table(t.name, t.columns, t.pkFlags);
    let slot = 0;
    for (let c = 0; c < job.changesets.length; c++) {
      if (before !== undefined && !before(c)) return;
      const positions = job.positions[c] ?? null;
      this.#walked = true;
      const lanes = positions === null ? null : lanesOf(slot);
      if (this.#native !== undefined) {
        this.#nativeWalk(this.#native, job.changesets[c]!, positions, lanes);
      } else {
        this.#undoLength = 0;
        this.#walk(job.changesets[c]!, positions, lanes);
      }
      if (positions !== null && !done(slot++)) return;
    }
  }

  /** The tables of the UPDATEs to resolve (from their headers' offsets: a few per changeset). */
  #tablesOf(job: GroupUpdateJob) {
    const tables: { name: string; lower: string; columns: number; pkFlags: Uint8Array }[] = [];
    for (let c = 0; c < job.changesets.length; c++) {
      const positions = job.positions[c];
      if (positions === null || positions === undefined) continue;
      const r = new Reader(job.changesets[c]!);
      let header = -1;
      for (let i = 0; i < positions.length; i += 2) {
        if (positions[i] === header) continue;
        header = positions[i]!;
        r.pos = header;
        const h = readTableHeader(r, false);
        tables.push({
          name: h.name,
          lower: asciiLower(h.name),
          columns: h.columnCount,
          pkFlags: h.pkFlags,
        });
      }
    }
    return tables;
  }

  #table(name: string, columns: number, pkFlags: Uint8Array): TableState {
    const lower = asciiLower(name);
    let table = this.#tables.get(lower);
    if (table === undefined) {
      const keyColumns = Array.from(pkFlags, (position, index) => ({ position, index }))
        .filter((k) => k.position > 0)
        .sort((a, b) => a.position - b.position)
        .map((k) => k.index);
      table = {
        overlay: new Map(),
        columns,
        keyColumns,
        shape: undefined,
        name,
        prefetched: new Map(),
        prefetchMask: '',
      };
      this.#tables.set(lower, table);
      this.#native?.follow(name);
    }
    return table;
  }

  #shapeOf(table: TableState): TableShape {
    table.shape ??= this.#shape(table.name, asciiLower(table.name), table.keyColumns);
    return table.shape;
  }

  /** The table's columns (cached until `reset`). */
  #shape(name: string, lower: string, keyColumns: number[]): TableShape {
    let shape = this.#shapes.get(lower);
    if (shape === undefined || shape.keyColumns.join() !== keyColumns.join()) {
      const names = (this.#db.pragma(`table_info(${quote(name)})`) as { name: string }[]).map((c) =>
        quote(c.name),
      );
      shape = {
        names,
        quotedTable: quote(name),
        keyColumns,
        selects: new Map(),
        batchSelects: new Map(),
      };
      this.#shapes.set(lower, shape);
    }
    return shape;
  }

  /** The SELECT, by primary key, of the columns of `mask` ('1' per column an UPDATE leaves out). */
  #select(shape: TableShape, mask: string): Statement {
    let select = shape.selects.get(mask);
    if (select === undefined) {
      const wanted = shape.names.filter((_, i) => mask[i] === '1');
      const where = shape.keyColumns.map((i) => `${shape.names[i]} = ?`).join(' AND ');
      select = this.#db
        .prepare(`SELECT ${wanted.join(', ')} FROM ${shape.quotedTable} WHERE ${where}`)
        .raw(true)
        .safeIntegers(true);
      shape.selects.set(mask, select);
    }
    return select;
  }

  /**
   * Reads ahead the rows a changeset's UPDATEs will need that the group has not touched yet,
   * sorted, PREFETCH per statement (one call and one B-tree walk per key in order, instead of a
   * statement per UPDATE in the changeset's order): for tables with a one-column INTEGER key,
   * the UPDATEs that leave out the same columns as the table's first one in the changeset.
   * Anything else is read one row at a time by `#rowOf`.
   */
  #prefetch(r: Reader, positions: Uint32Array): void {
    for (const table of this.#tables.values()) {
      if (table.prefetched.size > 0) table.prefetched = new Map();
      table.prefetchMask = '';
    }
    let header = -1;
    let table: TableState | undefined;
    let keyColumn = -1;
    let keys: number[] = [];
    const flush = () => {
      if (table !== undefined && keys.length > 0) this.#readAhead(table, keys);
      keys = [];
    };
    for (let i = 0; i < positions.length; i += 2) {
      if (positions[i] !== header) {
        flush();
        header = positions[i]!;
        r.pos = header;
        const h = readTableHeader(r, false);
        table = this.#tables.get(asciiLower(h.name));
        keyColumn = -1;
        this.#scratchFor(h.columnCount);
        if (table !== undefined && table.keyColumns.length === 1) {
          keyColumn = table.keyColumns[0]!;
        }
      }
      if (keyColumn < 0) continue;
      const at = this.#oldAt;
      if (recordOffsets(r, positions[i + 1]! + 2, table!.columns, at) < 0) continue;
      let mask = '';
      for (let c = 0; c < table!.columns; c++) mask += at[c]! < 0 ? '1' : '0';
      if (table!.prefetchMask === '') table!.prefetchMask = mask;
      if (mask !== table!.prefetchMask) continue;
      const p = at[keyColumn]!;
      if (p < 0 || r.buf[p] !== ValueType.Integer) continue;
      const key = valueAt(r, p, this.#keyValue);
      if (typeof key !== 'number' || table!.overlay.has(key)) continue;
      keys.push(key);
    }
    flush();
    r.pos = 0;
  }

  /** Reads the rows of `keys` (the columns of `table.prefetchMask`) into `table.prefetched`. */
  #readAhead(table: TableState, keys: number[]): void {
    const mask = table.prefetchMask;
    if (!mask.includes('1')) return;
    const shape = this.#shapeOf(table);
    if (shape.names.length !== table.columns) return;
    let select = shape.batchSelects.get(mask);
    if (select === undefined) {
      const key = shape.names[table.keyColumns[0]!]!;
      const wanted = shape.names.filter((_, i) => mask[i] === '1');
      const list = new Array(PREFETCH).fill('?').join(', ');
      select = this.#db
        .prepare(
          `SELECT ${key}, ${wanted.join(', ')} FROM ${shape.quotedTable} WHERE ${key} IN (${list})`,
        )
        .raw(true)
        .safeIntegers(true);
      shape.batchSelects.set(mask, select);
    }
    keys.sort((a, b) => a - b);
    const args: bigint[] = new Array(PREFETCH);
    for (let i = 0; i < keys.length; i += PREFETCH) {
      const n = Math.min(PREFETCH, keys.length - i);
      for (let k = 0; k < PREFETCH; k++) args[k] = BigInt(keys[i + (k < n ? k : n - 1)]!);
      for (const row of select.all(...args) as unknown[][]) {
        table.prefetched.set(Number(row[0] as bigint), row);
      }
    }
  }

  /** Scratch: where each column's value starts in an UPDATE's old and new records (-1: absent). */
  #oldAt = new Int32Array(0);
  #newAt = new Int32Array(0);
  /** Scratch: where each column starts in an overlay row (an element), and its end. */
  #baseAt = new Int32Array(0);
  /** The base of the UPDATE being resolved when read from the replica: values, from this index. */
  #baseValues: unknown[] = [];
  #baseFrom = 0;
  readonly #keyValue: ColumnValue[] = [undefined];

  /** Keeps a row's element (copied into the arena), or that it was deleted (null). */
  #keep(table: TableState, key: RowKey, row: Uint8Array | null): void {
    let at = -1;
    if (row !== null) {
      at = this.#arenaUsed;
      if (at + row.byteLength > this.#maxBytes) throw tooLarge(this.#maxBytes);
      if (at + row.byteLength > this.#arena.byteLength) {
        let size = this.#arena.byteLength * 2;
        while (size < at + row.byteLength) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#arena.subarray(0, at));
        this.#arena = grown;
      }
      this.#arena.set(row, at);
      this.#arenaUsed = at + row.byteLength;
    }
    const size = table.overlay.size;
    const n = this.#undoLength++;
    this.#undoTables[n] = table;
    this.#undoKeys[n] = key;
    this.#undoPrevious[n] = table.overlay.get(key) ?? ABSENT;
    table.overlay.set(key, at);
    this.#rows += table.overlay.size - size;
  }

  /**
   * Takes the last walked changeset out of the overlay (e.g. walked ahead of a group that ended
   * before it): its rows are as before it. Once only; false when there is nothing to undo.
   */
  undoLast(): boolean {
    if (this.#native !== undefined) return this.#native.undo();
    if (this.#undoLength < 0) return false;
    for (let n = this.#undoLength - 1; n >= 0; n--) {
      const table = this.#undoTables[n]!;
      const previous = this.#undoPrevious[n]!;
      if (previous === ABSENT) {
        if (table.overlay.delete(this.#undoKeys[n]!)) this.#rows--;
      } else table.overlay.set(this.#undoKeys[n]!, previous);
    }
    this.#undoLength = -1;
    this.#undoTables.fill(undefined);
    return true;
  }

  #scratchFor(columns: number): void {
    if (this.#oldAt.length > columns) return;
    this.#oldAt = new Int32Array(columns + 1);
    this.#newAt = new Int32Array(columns + 1);
    this.#baseAt = new Int32Array(columns + 1);
  }

  /**
   * One changeset by the native overlay: the rows its UPDATEs need that the overlay does not have
   * are read here (`#preloadMissing`), then the addon walks it (as `#walk` does).
   */
  #nativeWalk(
    overlay: NativeUpdateOverlay,
    changeset: Uint8Array,
    positions: Uint32Array | null,
    lanes: Uint16Array | null,
  ): void {
    const missing = overlay.missing(changeset);
    if (typeof missing === 'number') throw refused(missing, this.#maxBytes);
    if (missing.length > 0) this.#preloadMissing(overlay, changeset, missing);
    const result = overlay.walk(changeset, positions, lanes);
    if (result !== 0) throw refused(result, this.#maxBytes);
  }

  /**
   * Reads the rows of the UPDATEs at `pairs` (header and record offsets) from the snapshot, as
   * `#base` does (read ahead, PREFETCH keys per statement), and hands their elements (the
   * UPDATE's old values where it has them, the row's elsewhere) to the native overlay.
   */
  #preloadMissing(overlay: NativeUpdateOverlay, changeset: Uint8Array, pairs: Uint32Array): void {
    const r = new Reader(changeset);
    this.#prefetch(r, pairs);
    const w = this.#writer;
    const count = pairs.length / 2;
    if (this.#preloadDescriptors.length < 2 * count) {
      this.#preloadDescriptors = new Uint32Array(2 * count);
    }
    const descriptors = this.#preloadDescriptors;
    let used = 0;
    let header = -1;
    let table: TableState | undefined;
    let name = '';
    let columns = 0;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i] !== header) {
        header = pairs[i]!;
        r.pos = header;
        const h = readTableHeader(r, false);
        name = h.name;
        columns = h.columnCount;
        table = this.#tables.get(asciiLower(h.name));
        this.#scratchFor(columns);
        if (table === undefined) r.fail('an UPDATE of a table the overlay does not follow', header);
      }
      const start = pairs[i + 1]!;
      r.pos = start;
      readIndirect(r);
      const oldAt = this.#oldAt;
      if (recordOffsets(r, r.pos, columns, oldAt) < 0) r.fail('malformed change record', start);
      const key = this.#keyAt(r, table!, oldAt, start);
      this.#base(table!, name, key, r, oldAt);
      w.begin(name, columns);
      for (let c = 0, j = this.#baseFrom; c < columns; c++) {
        if (oldAt[c]! >= 0) {
          if (w.rawValue(r, oldAt[c]!) < 0) r.fail('unusable UPDATE value', start);
        } else w.storedValue(this.#baseValues[j++]);
      }
      const element = w.finish();
      if (used + element.byteLength > this.#preloadBytes.byteLength) {
        let size = this.#preloadBytes.byteLength * 2;
        while (size < used + element.byteLength) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#preloadBytes.subarray(0, used));
        this.#preloadBytes = grown;
      }
      this.#preloadBytes.set(element, used);
      descriptors[i] = used;
      descriptors[i + 1] = element.byteLength;
      used += element.byteLength;
    }
    const result = overlay.preload(changeset, pairs, this.#preloadBytes, descriptors);
    if (result !== 0) throw refused(result, this.#maxBytes);
    // grown for large rows: not kept for the resolver's life
    if (this.#preloadBytes.byteLength > 1 << 24) this.#preloadBytes = new Uint8Array(1 << 16);
  }

  /**
   * One changeset: every change to a table with UPDATEs to resolve updates the overlay; the
   * UPDATEs at `positions` add their lanes to `lanes`. Values go from the changeset's bytes into
   * the elements as they are (`RowElementWriter#rawValue`), and the overlay keeps each row as its
   * element (a row touched again is built from the element's columns): nothing is decoded but
   * the keys and the columns read from the replica.
   */
  #walk(changeset: Uint8Array, positions: Uint32Array | null, lanes: Uint16Array | null): void {
    const r = new Reader(changeset);
    if (positions !== null) this.#prefetch(r, positions);
    const batch = lanes === null ? null : elementLaneBatch();
    batch?.begin();
    const buf = r.buf;
    const w = this.#writer;
    let next = 1; // index in positions of the next record to resolve
    let table: TableState | undefined;
    let name = '';
    let columns = 0;
    while (r.pos < r.end) {
      const start = r.pos;
      const op = buf[start]!;
      if (op === TABLE_CHANGESET) {
        const h = readTableHeader(r, false);
        name = h.name;
        columns = h.columnCount;
        table = this.#tables.get(asciiLower(h.name));
        this.#scratchFor(columns);
        continue;
      }
      if (op !== OP_INSERT && op !== OP_UPDATE && op !== OP_DELETE) {
        r.fail(`unknown operation 0x${op.toString(16)}`, start);
      }
      readIndirect(r);
      const resolving = positions !== null && next < positions.length && positions[next] === start;
      if (resolving) {
        if (op !== OP_UPDATE) r.fail('an UPDATE position is not at an UPDATE record', start);
        next += 2;
      }
      const oldAt = this.#oldAt;
      const newAt = this.#newAt;
      let end = recordOffsets(r, r.pos, columns, oldAt);
      if (end >= 0 && op === OP_UPDATE) end = recordOffsets(r, end, columns, newAt);
      if (end < 0) r.fail('malformed change record', start);
      r.pos = end;
      if (table === undefined) continue;
      const key = this.#keyAt(r, table, oldAt, start);
      if (op === OP_DELETE) {
        this.#keep(table, key, null);
        continue;
      }
      if (op === OP_INSERT) {
        w.begin(name, columns);
        for (let i = 0; i < columns; i++) {
          if (oldAt[i]! < 0 || w.rawValue(r, oldAt[i]!) < 0) r.fail('unusable INSERT value', start);
        }
        this.#keep(table, key, w.finish());
        continue;
      }
      const base = this.#base(table, name, key, r, oldAt);
      const arena = this.#arena;
      const baseAt = this.#baseAt;
      if (base >= 0) elementColumnOffsets(arena, base, columns, baseAt);
      if (resolving) {
        // the old row: the UPDATE's old values where it has them, the base's elsewhere
        w.begin(name, columns);
        for (let i = 0, j = this.#baseFrom; i < columns; i++) {
          if (oldAt[i]! >= 0) {
            if (w.rawValue(r, oldAt[i]!) < 0) r.fail('unusable UPDATE value', start);
          } else if (base >= 0) w.encoded(arena, baseAt[i]!, baseAt[i + 1]!);
          else w.storedValue(this.#baseValues[j++]);
        }
        batch!.add(w.finish(), true);
      }
      // the new row: its new values, then its old ones (the key), then the base's
      w.begin(name, columns);
      for (let i = 0, j = this.#baseFrom; i < columns; i++) {
        if (newAt[i]! >= 0) {
          if (w.rawValue(r, newAt[i]!) < 0) r.fail('unusable UPDATE value', start);
          if (oldAt[i]! < 0) j++;
        } else if (oldAt[i]! >= 0) {
          if (w.rawValue(r, oldAt[i]!) < 0) r.fail('unusable UPDATE value', start);
        } else if (base >= 0) w.encoded(arena, baseAt[i]!, baseAt[i + 1]!);
        else w.storedValue(this.#baseValues[j++]);
      }
      const row = w.finish();
      if (resolving) batch!.add(row, false);
      this.#keep(table, key, row);
    }
    if (positions !== null && next < positions.length) {
      r.fail('an UPDATE position is not at a change record');
    }
    batch?.finish(lanes!);
  }

  /**
   * The row an UPDATE applies to: where its element is in the arena when it was changed since
   * the snapshot, else -1 and the columns the UPDATE leaves out as the snapshot holds them
   * (`#baseValues` from `#baseFrom`).
   */
  #base(table: TableState, name: string, key: RowKey, r: Reader, oldAt: Int32Array): number {
    const known = table.overlay.get(key);
    if (known !== undefined) {
      if (known < 0) throw new UnresolvableUpdateError(`updated row of ${name} was deleted`);
      return known;
    }
    const columns = table.columns;
    if (this.#shapeOf(table).names.length !== columns) {
      throw new UnresolvableUpdateError(`table ${name} does not have ${columns} columns`);
    }
    let mask = '';
    for (let i = 0; i < columns; i++) mask += oldAt[i]! < 0 ? '1' : '0';
    this.#baseFrom = 0;
    if (!mask.includes('1')) {
      this.#baseValues = NO_VALUES;
      return -1;
    }
    if (typeof key === 'number' && mask === table.prefetchMask) {
      const row = table.prefetched.get(key);
      if (row !== undefined) {
        this.#baseValues = row;
        this.#baseFrom = 1;
        return -1;
      }
    }
    const select = this.#select(this.#shapeOf(table), mask);
    const args = table.keyColumns.map((i) => this.#keyArg(r, oldAt[i]!));
    const found = select.get(...args) as unknown[] | undefined;
    if (found === undefined) throw new UnresolvableUpdateError(`updated row of ${name} not found`);
    this.#baseValues = found;
    return -1;
  }

  /** A key column's value at `p`, to bind (INTEGER as bigint: better-sqlite3 binds a number as REAL). */
  #keyArg(r: Reader, p: number): unknown {
    const v = valueAt(r, p, this.#keyValue);
    return r.buf[p] === ValueType.Integer ? BigInt(v as number | bigint) : v;
  }

  /**
   * A row's identity within its table: a one-column INTEGER key as a number (when safe), anything
   * else as each key column's storage class and value (a BLOB by its bytes), length-prefixed.
   */
  #keyAt(r: Reader, table: TableState, at: Int32Array, start: number): RowKey {
    const keyColumns = table.keyColumns;
    const buf = r.buf;
    if (keyColumns.length === 1) {
      const p = at[keyColumns[0]!]!;
      if (p >= 0 && buf[p] === ValueType.Integer) {
        const v = valueAt(r, p, this.#keyValue);
        if (typeof v === 'number') return v;
      }
    }
    let key = '';
    for (const i of keyColumns) {
      const p = at[i]!;
      if (p < 0) r.fail('a change without its primary key', start);
      const v = valueAt(r, p, this.#keyValue);
      const s =
        v instanceof Uint8Array
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
          : String(v);
      key += `${buf[p]}${s.length}:${s}`;
    }
    return key;
  }
}

const NO_VALUES: unknown[] = [];

function tooLarge(maxBytes: number): UnresolvableUpdateError {
  return new UnresolvableUpdateError(
    `the overlay would keep more than ${maxBytes} bytes of row versions (maxOverlayBytes)`,
  );
}

/** The error for a native overlay's answer (the job then fails and is resolved otherwise). */
function refused(code: number, maxBytes: number): Error {
  switch (code) {
    case OVERLAY_ROW_DELETED:
      return new UnresolvableUpdateError('an updated row was deleted');
    case OVERLAY_ROW_MISSING:
      return new UnresolvableUpdateError('an updated row is not in the overlay');
    case OVERLAY_BAD_ROW:
      return new UnresolvableUpdateError("an updated row does not have the UPDATE's columns");
    case OVERLAY_TOO_LARGE:
      return tooLarge(maxBytes);
    case OVERLAY_MALFORMED:
      return new ChangesetFormatError(
        'the native UPDATE overlay does not take this changeset (malformed, or a value it does not make an element of)',
        0,
      );
    default:
      return new ChangesetFormatError(`the native UPDATE overlay refused it (${code})`, 0);
  }
}
/** In the undo log: the key was not in the overlay. */
const ABSENT = -2;

/** The value at `p` (decoded as the codec does: INTEGER as a number when safe). */
function valueAt(r: Reader, p: number, scratch: ColumnValue[]): ColumnValue {
  const next = readCommonValue(r, p, r.buf[p]!, false, null, scratch, 0);
  if (next >= 0) return scratch[0];
  r.pos = p;
  return r.value(false);
}

/**
 * Where each of a record's `columns` values starts (`at[i]`, -1 for a value the record does not
 * carry), stepping over them without decoding; the position after the record, or -1 when it is
 * truncated or has an unknown type.
 */
function recordOffsets(r: Reader, p: number, columns: number, at: Int32Array): number {
  const buf = r.buf;
  const end = r.end;
  for (let i = 0; i < columns; i++) {
    if (p >= end) return -1;
    const ty = buf[p]!;
    if (ty === 0) {
      at[i] = -1;
      p++;
      continue;
    }
    at[i] = p++;
    if (ty === 1 || ty === 2) p += 8;
    else if (ty === 3 || ty === 4) {
      if (p >= end) return -1;
      if (buf[p]! < 0x80) p += 1 + buf[p]!;
      else {
        r.pos = p;
        const len = r.varint();
        p = r.pos + len;
      }
    } else if (ty !== 5) return -1;
  }
  return p <= end ? p : -1;
}
