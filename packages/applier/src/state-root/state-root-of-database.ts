import type { Database, Statement } from 'better-sqlite3';
import { type Change, readChange } from '../changeset/read-record';
import { OP_UPDATE, Reader } from '../changeset/reader';
import { readTableHeader } from '../changeset/table-header';
import { ValueType } from '../types';
import type { ChangesetStateDelta, PendingRowUpdate } from './changeset-state-delta';
import { type ElementLaneBatch, IMAGE_TOO_SMALL, type NativeImageFile } from './lanes';
import { LtHash16 } from './lthash';
import { asciiLower, isStateTable, RowElementWriter } from './row-element';
import { elementLaneBatch, nativeImageFile } from './state-root-kernel';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** One element writer per thread: both functions here are synchronous and never re-entered. */
const writer = new RowElementWriter();

/** The state tables of a database: ordinary tables, not `sqlite_*`, `_synddb_*` or virtual. */
function stateTables(db: Database): string[] {
  const rows = db
    .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .all() as { name: string; sql: string | null }[];
  return rows
    .filter((r) => isStateTable(r.name) && !/^\s*CREATE\s+VIRTUAL\b/i.test(r.sql ?? ''))
    .map((r) => r.name);
}

function columnsOf(db: Database, table: string): string[] {
  return (db.pragma(`table_info(${quote(table)})`) as { name: string }[]).map((c) => c.name);
}

/**
 * The LtHash16 of a database's content computed from scratch: one element per row of every state
 * table (see `RowElementWriter`). Costs O(database); the incremental maintenance
 * (`changesetStateDelta` + `applyStateDelta`) must always agree with it. `progress` is called
 * every 16,384 rows (a heartbeat for whoever waits on another thread).
 */
export function stateHashOfDatabase(
  db: Database,
  options: { progress?: (() => void) | undefined } = {},
): LtHash16 {
  const hash = new LtHash16();
  const batch = elementLaneBatch();
  const progress = options.progress;
  let rows = 0;
  for (const table of stateTables(db)) {
    const columns = columnsOf(db, table);
    if (columns.length === 0) continue;
    const select = db
      .prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(table)}`)
      .raw(true)
      .safeIntegers(true);
    for (const row of select.iterate() as IterableIterator<unknown[]>) {
      writer.begin(table, columns.length);
      for (const v of row) writer.storedValue(v);
      batch.add(writer.finish(), false);
      if (progress !== undefined && (++rows & 0x3fff) === 0) progress();
    }
  }
  batch.finish(hash.lanes);
  return hash;
}

/**
 * One part of a database's from-scratch state hash (`stateHashChunks`): a whole table, or the
 * rows of a rowid table whose rowid is in `[from, to]`.
 */
export interface StateHashChunk {
  table: string;
  columns: string[];
  /** Per column, its position in the primary key (0: not in it), as a changeset header has it. */
  primaryKey: Uint8Array;
  /** The rowid's name in this table (`rowid`, `_rowid_` or `oid`: one no column shadows). */
  rowid?: string;
  from?: bigint;
  to?: bigint;
  /**
   * Set when the rows may be read straight from the file (`openStateHashFile`): the table's root
   * page, its elements' first bytes, and per column 1 (REAL affinity) or 2 (the rowid alias).
   */
  direct?: { rootPage: number; prefix: Uint8Array; flags: Uint8Array };
}

/** Rowids per chunk (`stateHashChunks`), and at most this many chunks per table. */
const CHUNK_ROWIDS = 4096n;
const MAX_CHUNKS_PER_TABLE = 1024n;

/**
 * A column's affinity is REAL (SQLite's rules, https://www.sqlite.org/datatype3.html 3.1, in
 * their order: INT, then CHAR/CLOB/TEXT, then BLOB or none, then REAL/FLOA/DOUB).
 */
export function hasRealAffinity(declaredType: string): boolean {
  const t = declaredType.toUpperCase();
  if (t.includes('INT')) return false;
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return false;
  if (t.includes('BLOB') || t === '') return false;
  return t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB');
}

/**
 * The from-scratch state hash cut into parts that sum to it (the hash is a sum of row elements),
 * so that several threads can compute it together, each from its own connection to the same
 * file: the same file gives every caller the same chunks in the same order. Rowid tables are cut
 * into ranges of at least 4,096 rowids (at most 1,024 ranges per table: sparse rowids make
 * uneven chunks, never wrong ones); a WITHOUT ROWID table, or one whose columns shadow every name
 * of its rowid, is one chunk. Rowid tables of a UTF-8 database without hidden or generated
 * columns may be read straight from the file (`direct`).
 */
export function stateHashChunks(db: Database): StateHashChunk[] {
  const withoutRowid = new Set(
    (db.pragma('table_list') as { name: string; schema: string; wr: number }[])
      .filter((t) => t.schema === 'main' && t.wr === 1)
      .map((t) => t.name),
  );
  const utf8Database = db.pragma('encoding', { simple: true }) === 'UTF-8';
  const rootPages = new Map(
    (
      db.prepare("SELECT name, rootpage FROM sqlite_schema WHERE type = 'table'").all() as {
        name: string;
        rootpage: number;
      }[]
    ).map((r) => [r.name, r.rootpage]),
  );
  const chunks: StateHashChunk[] = [];
  for (const table of stateTables(db)) {
    const info = db.pragma(`table_info(${quote(table)})`) as {
      name: string;
      type: string;
      pk: number;
    }[];
    const columns = info.map((c) => c.name);
    if (columns.length === 0) continue;
    const primaryKey = Uint8Array.from(info, (c) => c.pk);
    const taken = new Set(columns.map((c) => c.toLowerCase()));
    const rowid = withoutRowid.has(table)
      ? undefined
      : ['rowid', '_rowid_', 'oid'].find((n) => !taken.has(n));
    if (rowid === undefined) {
      chunks.push({ table, columns, primaryKey });
      continue;
    }
    // one aggregate per subquery: each is then a seek to one end of the B-tree (min and max in
    // one SELECT scan the whole table)
    const [min, max] = db
      .prepare(
        `SELECT (SELECT min(${rowid}) FROM ${quote(table)}), (SELECT max(${rowid}) FROM ${quote(table)})`,
      )
      .raw(true)
      .safeIntegers(true)
      .get() as [bigint | null, bigint | null];
    if (min === null || max === null) continue; // no rows
    const direct = utf8Database ? directRead(db, table, info, rootPages.get(table)) : undefined;
    const span = max - min + 1n;
    let width = (span + MAX_CHUNKS_PER_TABLE - 1n) / MAX_CHUNKS_PER_TABLE;
    if (width < CHUNK_ROWIDS) width = CHUNK_ROWIDS;
    for (let from = min; from <= max; from += width) {
      const to = from + width - 1n;
      chunks.push({
        table,
        columns,
        primaryKey,
        rowid,
        from,
        to: to > max ? max : to,
        ...(direct === undefined ? {} : { direct }),
      });
    }
  }
  return chunks;
}

/** `StateHashChunk#direct` of a rowid table; undefined when it has hidden or generated columns. */
function directRead(
  db: Database,
  table: string,
  info: { name: string; type: string; pk: number }[],
  rootPage: number | undefined,
): StateHashChunk['direct'] {
  if (rootPage === undefined || !Number.isInteger(rootPage) || rootPage < 2) return undefined;
  // table_xinfo lists the columns a record holds that table_info leaves out (generated ones)
  const all = db.pragma(`table_xinfo(${quote(table)})`) as unknown[];
  if (all.length !== info.length) return undefined;
  // The rowid alias (INTEGER PRIMARY KEY, NULL in the record): a one-column primary key of a
  // rowid table without the index a PRIMARY KEY constraint otherwise makes.
  const keys = info.filter((c) => c.pk > 0);
  const pkIndex = (db.pragma(`index_list(${quote(table)})`) as { origin: string }[]).some(
    (i) => i.origin === 'pk',
  );
  const alias = keys.length === 1 && !pkIndex ? info.indexOf(keys[0]!) : -1;
  const flags = Uint8Array.from(info, (c, i) =>
    i === alias ? 2 : hasRealAffinity(c.type ?? '') ? 1 : 0,
  );
  writer.begin(table, info.length);
  return { rootPage, prefix: writer.finish().slice(), flags };
}

/** Elements per native call, and its first output area (grown for a larger row). */
const FILE_ELEMENTS = 4096;
const FILE_BYTES = 1024 * 1024;

/**
 * A database file whose rows `addStateHashChunk` reads straight from its pages (the native
 * kernel's reader, native/image-rows.h): only for a complete file nobody writes while it is open
 * and that has no WAL content, e.g. a snapshot image. Chunks or parts of chunks it does not take
 * are read through SQLite, so the hash is the same either way. One thread uses it.
 */
export interface StateHashFile {
  /** Rows read from the file, and chunks (or their rest) read through SQLite instead. */
  readonly stats: { rows: number; fallbacks: number };
  close(): void;
}

interface OpenStateHashFile extends StateHashFile {
  image: NativeImageFile;
  out: Uint8Array;
  descriptors: Uint32Array;
  state: BigInt64Array;
}

/**
 * Opens `path` for `addStateHashChunk` (see StateHashFile); undefined when this thread's kernel
 * has no file reader (WebAssembly) or the file is not one it reads (not UTF-8, a header that
 * disagrees with the file's size): the chunks are then read through SQLite.
 */
export function openStateHashFile(path: string): StateHashFile | undefined {
  const image = nativeImageFile(path);
  if (image === undefined) return undefined;
  const file: OpenStateHashFile = {
    image,
    out: new Uint8Array(FILE_BYTES),
    descriptors: new Uint32Array(2 * FILE_ELEMENTS),
    state: new BigInt64Array(2),
    stats: { rows: 0, fallbacks: 0 },
    close: () => image.close(),
  };
  return file;
}

/**
 * Takes a chunk's row elements in batches (`addStateHashChunk`'s `onElement`): the rows read from
 * a file's pages as the native reader wrote them (no copy, no call per row), the others gathered.
 */
export interface StateHashElementBatches {
  /**
   * `count` elements: `out[descriptors[2i] .. + descriptors[2i + 1])` for `i < count`, in the
   * chunk's order (views valid during the call).
   */
  batch(out: Uint8Array, descriptors: Uint32Array, count: number): void;
}

/** Elements per batch a `StateHashElementBatches` gets from rows read through SQLite. */
const SQL_BATCH_ELEMENTS = 1024;

/**
 * Adds the elements of one chunk's rows to `lanes` (see `stateHashChunks`); returns the rows.
 * `progress` as in `stateHashOfDatabase` (every 16,384 rows of this chunk); `onElement` sees each
 * row's element (a view valid during the call), or takes them in batches
 * (`StateHashElementBatches`); `lanes` null: the elements only, not hashed. With `file` (the same
 * database's file, see `openStateHashFile`), a `direct` chunk's rows are read from its pages;
 * whatever the reader does not take is read through SQLite from there on.
 */
export function addStateHashChunk(
  db: Database,
  chunk: StateHashChunk,
  lanes: Uint16Array | null,
  progress?: () => void,
  onElement?: ((element: Uint8Array) => void) | StateHashElementBatches,
  file?: StateHashFile,
): number {
  let from = chunk.from;
  let n = 0;
  if (file !== undefined && chunk.direct !== undefined && from !== undefined) {
    const f = file as OpenStateHashFile;
    const { rootPage, prefix, flags } = chunk.direct;
    const to = chunk.to!;
    let beat = 0;
    for (;;) {
      const count = f.image.rows(rootPage, from, to, prefix, flags, f.out, f.descriptors, f.state);
      if (count === IMAGE_TOO_SMALL) {
        // the element's bytes (under 2 GiB, the reader's limit for one element)
        const need = Number(f.state[0]);
        f.out = new Uint8Array(Math.min(0x7fffffff, 2 ** Math.ceil(Math.log2(need))));
        continue;
      }
      if (count < 0) {
        f.stats.fallbacks++;
        break; // the rest of the chunk, from `from`, through SQLite
      }
      if (lanes !== null) f.image.accumulate(f.out, f.descriptors, count, lanes);
      if (typeof onElement === 'object') {
        if (count > 0) onElement.batch(f.out, f.descriptors, count);
      } else if (onElement !== undefined) {
        const d = f.descriptors;
        for (let i = 0; i < count; i++) {
          onElement(f.out.subarray(d[2 * i]!, d[2 * i]! + d[2 * i + 1]!));
        }
      }
      n += count;
      f.stats.rows += count;
      if (progress !== undefined && n - beat >= 0x4000) {
        beat = n;
        progress();
      }
      if (f.state[1] === 0n) return n;
      from = f.state[0]!;
    }
    if (f.out.byteLength > 4 * FILE_BYTES) f.out = new Uint8Array(FILE_BYTES);
  }
  return n + addChunkRows(db, chunk, from, lanes, progress, onElement);
}

/** The chunk's rows through SQLite (from rowid `from` on, for a rowid range), as elements. */
function addChunkRows(
  db: Database,
  chunk: StateHashChunk,
  from: bigint | undefined,
  lanes: Uint16Array | null,
  progress?: () => void,
  onElement?: ((element: Uint8Array) => void) | StateHashElementBatches,
): number {
  const { table, columns } = chunk;
  const list = columns.map(quote).join(', ');
  const select =
    chunk.rowid === undefined
      ? db.prepare(`SELECT ${list} FROM ${quote(table)}`)
      : db.prepare(`SELECT ${list} FROM ${quote(table)} WHERE ${chunk.rowid} BETWEEN ? AND ?`);
  select.raw(true).safeIntegers(true);
  const rows = (
    chunk.rowid === undefined ? select.iterate() : select.iterate(from, chunk.to)
  ) as IterableIterator<unknown[]>;
  const batch = elementLaneBatch();
  const batches = typeof onElement === 'object' ? new ElementGather(onElement) : undefined;
  const each = typeof onElement === 'function' ? onElement : undefined;
  let n = 0;
  for (const row of rows) {
    writer.begin(table, columns.length);
    for (const v of row) writer.storedValue(v);
    const element = writer.finish();
    if (lanes !== null) batch.add(element, false);
    if (batches !== undefined) batches.add(element);
    else each?.(element);
    n++;
    if (progress !== undefined && (n & 0x3fff) === 0) progress();
  }
  batches?.flush();
  if (lanes !== null) batch.finish(lanes);
  return n;
}

/** Gathers elements (copied) into batches of `SQL_BATCH_ELEMENTS` for a `StateHashElementBatches`. */
class ElementGather {
  #out = new Uint8Array(1 << 16);
  #used = 0;
  readonly #descriptors = new Uint32Array(2 * SQL_BATCH_ELEMENTS);
  #count = 0;

  constructor(readonly sink: StateHashElementBatches) {}

  add(element: Uint8Array): void {
    const n = element.byteLength;
    if (this.#used + n > this.#out.byteLength) {
      let size = this.#out.byteLength * 2;
      while (size < this.#used + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#out.subarray(0, this.#used));
      this.#out = grown;
    }
    this.#out.set(element, this.#used);
    this.#descriptors[2 * this.#count] = this.#used;
    this.#descriptors[2 * this.#count + 1] = n;
    this.#used += n;
    if (++this.#count === SQL_BATCH_ELEMENTS) this.flush();
  }

  flush(): void {
    if (this.#count === 0) return;
    this.sink.batch(this.#out, this.#descriptors, this.#count);
    this.#count = 0;
    this.#used = 0;
  }
}

/** The 32-byte state root of a database, from scratch: `stateHashOfDatabase(db).digest()`. */
export function stateRootOfDatabase(db: Database): Uint8Array {
  return stateHashOfDatabase(db).digest();
}

interface TableReader {
  columns: number;
  /** Primary-key column indexes in key order. */
  keyColumns: number[];
  /** Quoted column names, and the quoted table name. */
  names: string[];
  table: string;
  /** SELECT of the columns an UPDATE leaves out, by which ones ('1' per left-out column). */
  selects: Map<string, Statement>;
}

/**
 * Adds an applied changeset's delta to `hash`: its precomputed lanes, then each UPDATE resolved
 * against `db` (which must already hold the changeset's result: the row is read by primary key,
 * the old row is the new one with the changed columns' old values). Conflicts halt the sync, so
 * the changeset's old values are exactly what the replica held. `readers` caches one statement
 * per table (drop it when the schema changes).
 */
export function applyStateDelta(
  db: Database,
  hash: LtHash16,
  delta: ChangesetStateDelta,
  readers: Map<string, TableReader> = new Map(),
): void {
  hash.addLanes(delta.lanes);
  const undecoded = delta.undecodedUpdates;
  if (delta.updates.length === 0 && undecoded === undefined) return;
  const batch = elementLaneBatch();
  for (const u of delta.updates) resolveUpdate(db, readers, batch, u);
  if (undecoded !== undefined) {
    const { changeset, positions } = undecoded;
    const r = new Reader(changeset);
    let header = -1;
    let u: PendingRowUpdate | undefined;
    let ch: Change | undefined;
    let pkFlags: Uint8Array | undefined;
    for (let i = 0; i < positions.length; i += 2) {
      if (positions[i] !== header) {
        header = positions[i]!;
        r.pos = header;
        const h = readTableHeader(r, false);
        ch = {
          op: 0,
          indirect: false,
          start: 0,
          oldValues: new Array(h.columnCount),
          newValues: new Array(h.columnCount),
          oldTypes: new Uint8Array(h.columnCount),
          newTypes: new Uint8Array(h.columnCount),
        };
        u = {
          table: h.name,
          primaryKey: Array.from(h.pkFlags),
          oldValues: ch.oldValues,
          oldTypes: ch.oldTypes!,
          newValues: ch.newValues,
          newTypes: ch.newTypes!,
        };
        pkFlags = h.pkFlags;
      }
      r.pos = positions[i + 1]!;
      if (r.buf[r.pos] !== OP_UPDATE) r.fail('not an UPDATE record');
      readChange(r, pkFlags!.length, pkFlags!, false, ch!, undefined);
      resolveUpdate(db, readers, batch, u!);
    }
  }
  batch.finish(hash.lanes);
}

/**
 * Queues an UPDATE's old row (subtracted) and new row (added). The columns the UPDATE carries
 * come from the changeset (the key, and each changed column's old and new value: the applier
 * compared every old value it was given with the row, and conflicts halt); the columns it leaves
 * out are read back from `db`, and only those (one statement per set of left-out columns).
 */
function resolveUpdate(
  db: Database,
  readers: Map<string, TableReader>,
  batch: ElementLaneBatch,
  u: PendingRowUpdate,
): void {
  const reader = readerOf(db, readers, u);
  const columns = reader.columns;
  const oldTypes = u.oldTypes;
  const newTypes = u.newTypes;
  let row: unknown[] = NO_ROW;
  const select = leftOutSelect(db, reader, u);
  if (select !== undefined) {
    // INTEGER keys bound as bigint: better-sqlite3 binds a JS number as REAL.
    const key = reader.keyColumns.map((i) =>
      oldTypes[i] === ValueType.Integer
        ? BigInt(u.oldValues[i] as number | bigint)
        : u.oldValues[i],
    );
    const found = select.get(...(key as unknown[])) as unknown[] | undefined;
    if (found === undefined) {
      throw new Error(`state root: updated row of ${u.table} not found after apply`);
    }
    row = found;
  }
  writer.begin(u.table, columns);
  for (let i = 0, j = 0; i < columns; i++) {
    if (oldTypes[i] !== 0) writer.value(oldTypes[i]!, u.oldValues[i]);
    else writer.storedValue(row[j++]);
  }
  batch.add(writer.finish(), true);
  writer.begin(u.table, columns);
  for (let i = 0, j = 0; i < columns; i++) {
    if (newTypes[i] !== 0) {
      writer.value(newTypes[i]!, u.newValues[i]);
      if (oldTypes[i] === 0) j++; // a column only the new record has: read, not needed
    } else if (oldTypes[i] !== 0) writer.value(oldTypes[i]!, u.oldValues[i]);
    else writer.storedValue(row[j++]);
  }
  batch.add(writer.finish(), false);
}

const NO_ROW: unknown[] = [];

/**
 * The SELECT of the columns `u` leaves out of its old record, by primary key (cached per set of
 * columns on the table's reader); undefined when it leaves none out.
 */
function leftOutSelect(
  db: Database,
  reader: TableReader,
  u: PendingRowUpdate,
): Statement | undefined {
  const oldTypes = u.oldTypes;
  let mask = '';
  let any = false;
  for (let i = 0; i < reader.columns; i++) {
    const out = oldTypes[i] === 0;
    mask += out ? '1' : '0';
    any ||= out;
  }
  if (!any) return undefined;
  let select = reader.selects.get(mask);
  if (select === undefined) {
    const wanted = reader.names.filter((_, i) => mask[i] === '1');
    const where = reader.keyColumns.map((i) => `${reader.names[i]} = ?`).join(' AND ');
    select = db
      .prepare(`SELECT ${wanted.join(', ')} FROM ${reader.table} WHERE ${where}`)
      .raw(true)
      .safeIntegers(true);
    reader.selects.set(mask, select);
  }
  return select;
}

function readerOf(
  db: Database,
  readers: Map<string, TableReader>,
  u: PendingRowUpdate,
): TableReader {
  // by the changeset's spelling first (no case folding per UPDATE), then by the table's name
  const cached = readers.get(u.table);
  if (cached !== undefined) return cached;
  const name = asciiLower(u.table);
  let reader = readers.get(name);
  if (reader === undefined) {
    const columns = columnsOf(db, u.table);
    const keyColumns = u.primaryKey
      .map((position, index) => ({ position, index }))
      .filter((k) => k.position > 0)
      .sort((a, b) => a.position - b.position)
      .map((k) => k.index);
    reader = {
      columns: columns.length,
      keyColumns,
      names: columns.map(quote),
      table: quote(u.table),
      selects: new Map(),
    };
    readers.set(name, reader);
  }
  readers.set(u.table, reader);
  return reader;
}

export type { TableReader };
