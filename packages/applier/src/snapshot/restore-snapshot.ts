import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { SnapshotFormatError, SnapshotTooLargeError } from '../errors';
import { quoteIdent } from '../quote-ident';

export interface RestoreSnapshotOptions {
  /** Directory for the temporary copy of the image. Default: the database's directory, or os.tmpdir(). */
  tempDir?: string | undefined;
  /** Largest accepted image in bytes; beyond it SnapshotTooLargeError. Default: no limit. */
  maxBytes?: number | undefined;
  /** Tables of the live database to leave untouched; tables of that name in the image are ignored. */
  keepTable?: ((name: string) => boolean) | undefined;
  /** Runs inside the swap transaction just before COMMIT; throwing keeps the old content. */
  beforeCommit?: ((db: Database.Database) => void) | undefined;
  /**
   * Called with the checked image's temporary file right before the swap starts (e.g. to read
   * it on another thread while the swap runs). The file is removed once `restoreSnapshot` ends.
   */
  onImage?: ((path: string) => void) | undefined;
}

export interface RestoreSnapshotResult {
  /** Image size in bytes. */
  bytes: number;
  /** Number of tables copied from the image. */
  tables: number;
}

export type SnapshotImage = Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

const HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const ALIAS = 'synddb_snapshot';

/**
 * Writes an image that is in memory to `path`, synchronously: no trip through the event loop and
 * the thread pool, which costs more than the write for the small images that come this way (a
 * snapshot message's image is streamed, `@synddb/sync` passes only small ones in memory).
 */
function spoolBytes(image: Uint8Array, path: string, maxBytes: number): number {
  if (image.byteLength > maxBytes) throw new SnapshotTooLargeError(image.byteLength, maxBytes);
  const fd = openSync(path, 'wx+', 0o600);
  try {
    let at = 0;
    while (at < image.byteLength) at += writeSync(fd, image, at, image.byteLength - at, at);
    const head = Buffer.alloc(100);
    checkHeader(head, readSync(fd, head, 0, 100, 0), image.byteLength);
    if (head[18] === 2 || head[19] === 2) writeSync(fd, Buffer.from([1, 1]), 0, 2, 18);
  } finally {
    closeSync(fd);
  }
  return image.byteLength;
}

function checkHeader(head: Buffer, bytesRead: number, bytes: number): void {
  if (bytesRead < 100 || !head.subarray(0, 16).equals(HEADER)) {
    throw new SnapshotFormatError('missing "SQLite format 3" header', {
      details: `bytes=${bytes}`,
    });
  }
}

// Neither spool syncs the file to disk: it is read back by this process only (attached, in the
// page cache) and removed after the swap; the swap's commit is what is durable.
async function spool(image: SnapshotImage, path: string, maxBytes: number): Promise<number> {
  const fh = await open(path, 'wx+', 0o600);
  let bytes = 0;
  try {
    if (image && typeof (image as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
      for await (const chunk of image as AsyncIterable<unknown>) {
        if (!(chunk instanceof Uint8Array))
          throw new TypeError('snapshot stream must yield bytes (Uint8Array/Buffer)');
        if (bytes + chunk.byteLength > maxBytes)
          throw new SnapshotTooLargeError(bytes + chunk.byteLength, maxBytes);
        await fh.write(chunk, 0, chunk.byteLength, bytes);
        bytes += chunk.byteLength;
      }
    } else {
      throw new TypeError(
        'snapshot image must be a Uint8Array, an AsyncIterable of Uint8Array or a readable stream',
      );
    }
    // Validate the header and force the rollback-journal mode bytes: the image comes without a
    // WAL file, so a read-only open must not look for one.
    const head = Buffer.alloc(100);
    const { bytesRead } = await fh.read(head, 0, 100, 0);
    checkHeader(head, bytesRead, bytes);
    if (head[18] === 2 || head[19] === 2) await fh.write(Buffer.from([1, 1]), 0, 2, 18);
  } finally {
    await fh.close();
  }
  return bytes;
}

/**
 * The check connection is opened with the caller's own better-sqlite3 (db.constructor): a second
 * SQLite library in the process must never open a file the first one opens (POSIX locks are
 * per process and shared), and the caller may use either supported major version.
 */
function quickCheck(db: Database.Database, path: string): void {
  const Driver = db.constructor as typeof Database;
  let check: Database.Database | undefined;
  try {
    check = new Driver(path, { readonly: true, fileMustExist: true });
    const rows = check.prepare('PRAGMA quick_check').pluck().all() as string[];
    if (rows.length !== 1 || rows[0] !== 'ok') {
      throw new SnapshotFormatError('quick_check failed', {
        details: rows.slice(0, 10).join('; '),
      });
    }
  } catch (e) {
    if (e instanceof SnapshotFormatError) throw e;
    throw new SnapshotFormatError('not a readable SQLite database', {
      cause: e,
    });
  } finally {
    check?.close();
  }
}

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/**
 * Replaces the content of `db` with a SQLite database image, atomically: the image is spooled to
 * a temporary file (never held twice in memory), checked (header, PRAGMA quick_check), attached,
 * and swapped in within one transaction, so readers on other connections see the old or the new
 * content, never a mix. Re-applies journal_mode=WAL and synchronous=NORMAL afterwards.
 */
export async function restoreSnapshot(
  db: Database.Database,
  image: SnapshotImage,
  options: RestoreSnapshotOptions = {},
): Promise<RestoreSnapshotResult> {
  if (db.inTransaction) throw new TypeError('restoreSnapshot cannot run inside a transaction');
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const keep = options.keepTable ?? (() => false);
  const inMemory = db.memory || db.name === '' || db.name === ':memory:';
  const dir = options.tempDir ?? (inMemory ? tmpdir() : dirname(db.name));
  const path = join(dir, `.synddb-snapshot-${randomUUID()}.db`);
  let attached = false;
  let fkWasOn = false;
  try {
    const bytes =
      image instanceof Uint8Array
        ? spoolBytes(image, path, maxBytes)
        : await spool(image, path, maxBytes);
    quickCheck(db, path);
    if (db.inTransaction) throw new TypeError('restoreSnapshot cannot run inside a transaction');
    options.onImage?.(path);
    db.prepare(`ATTACH DATABASE ? AS ${ALIAS}`).run(path);
    attached = true;
    fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
    if (fkWasOn) db.pragma('foreign_keys = OFF');
    const tables = swap(db, keep, options.beforeCommit);
    return { bytes, tables };
  } finally {
    if (attached) {
      try {
        db.prepare(`DETACH DATABASE ${ALIAS}`).run();
      } catch {
        // detaching fails only if the connection is unusable; the file is removed below anyway
      }
    }
    if (fkWasOn) db.pragma('foreign_keys = ON');
    if (image instanceof Uint8Array) {
      rmSync(path, { force: true });
      rmSync(`${path}-journal`, { force: true });
    } else {
      await rm(path, { force: true });
      await rm(`${path}-journal`, { force: true });
    }
    if (!inMemory && db.open) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
  }
}

function swap(
  db: Database.Database,
  keep: (name: string) => boolean,
  beforeCommit: ((db: Database.Database) => void) | undefined,
): number {
  const internal = (name: string) => name.toLowerCase().startsWith('sqlite_');
  const live = db
    .prepare(
      `SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid`,
    )
    .all() as MasterRow[];
  const img = db
    .prepare(
      `SELECT type, name, tbl_name, sql FROM ${ALIAS}.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid`,
    )
    .all() as MasterRow[];
  const userVersion = db.prepare(`PRAGMA ${ALIAS}.user_version`).pluck().get() as number;
  db.prepare('BEGIN IMMEDIATE').run();
  try {
    // Drop the live schema (views and triggers first; dropping a table drops its indexes).
    for (const kind of ['trigger', 'view', 'index', 'table']) {
      for (const o of live) {
        if (o.type !== kind || internal(o.name) || keep(o.tbl_name)) continue;
        const exists = db
          .prepare('SELECT count(*) FROM main.sqlite_master WHERE type = ? AND name = ?')
          .pluck()
          .get(kind, o.name) as number;
        if (exists) db.exec(`DROP ${kind.toUpperCase()} main.${quoteIdent(o.name)}`);
      }
    }
    // Tables: virtual tables first (they create their shadow tables), then ordinary tables.
    const wanted = img.filter((o) => !internal(o.name) && !keep(o.tbl_name));
    let tables = 0;
    const copy: string[] = [];
    for (const o of wanted) {
      if (o.type === 'table' && /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(o.sql ?? ''))
        createFromImage(db, o);
    }
    for (const o of wanted) {
      if (o.type !== 'table' || /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(o.sql ?? '')) continue;
      const exists = db
        .prepare(`SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = ?`)
        .pluck()
        .get(o.name) as number;
      if (exists)
        db.exec(`DELETE FROM main.${quoteIdent(o.name)}`); // a shadow table made by a virtual table
      else createFromImage(db, o);
      copy.push(o.name);
    }
    for (const name of copy) {
      const cols = (
        db
          .prepare(
            `SELECT name FROM pragma_table_xinfo(?, '${ALIAS}') WHERE hidden = 0 ORDER BY cid`,
          )
          .pluck()
          .all(name) as string[]
      ).map(quoteIdent);
      const withoutRowid =
        (db
          .prepare(`SELECT wr FROM pragma_table_list(?) WHERE schema = '${ALIAS}'`)
          .pluck()
          .get(name) as number | undefined) === 1;
      const lower = new Set(cols.map((c) => c.slice(1, -1).toLowerCase()));
      const rowid = withoutRowid
        ? undefined
        : ['rowid', '_rowid_', 'oid'].find((r) => !lower.has(r));
      const list = rowid ? [rowid, ...cols] : cols;
      db.exec(
        `INSERT INTO main.${quoteIdent(name)} (${list.join(', ')}) SELECT ${list.join(', ')} FROM ${ALIAS}.${quoteIdent(name)}`,
      );
      tables++;
    }
    const hasSeq = img.length > 0 && imgHasSequence(db);
    if (hasSeq) {
      const names = copy.filter((n) => !keep(n));
      const liveSeq = db
        .prepare(`SELECT count(*) FROM main.sqlite_master WHERE name = 'sqlite_sequence'`)
        .pluck()
        .get();
      if (liveSeq) {
        const del = db.prepare('DELETE FROM main.sqlite_sequence WHERE name = ?');
        const ins = db.prepare(
          `INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM ${ALIAS}.sqlite_sequence WHERE name = ?`,
        );
        for (const n of names) {
          del.run(n);
          ins.run(n);
        }
      }
    }
    for (const kind of ['index', 'trigger', 'view']) {
      for (const o of wanted) if (o.type === kind) createFromImage(db, o);
    }
    db.pragma(`main.user_version = ${Number(userVersion) | 0}`);
    beforeCommit?.(db);
    db.prepare('COMMIT').run();
    return tables;
  } catch (e) {
    if (db.inTransaction) db.prepare('ROLLBACK').run();
    throw e;
  }
}

const CREATE_BY_TYPE: Record<string, RegExp> = {
  table: /^\s*CREATE\s+(VIRTUAL\s+)?TABLE\s/i,
  index: /^\s*CREATE\s+(UNIQUE\s+)?INDEX\s/i,
  view: /^\s*CREATE\s+VIEW\s/i,
  trigger: /^\s*CREATE\s+TRIGGER\s/i,
};

/**
 * Runs one schema statement of the image. The text comes from a hostile file: it must be a
 * single CREATE of the object's own type (no TEMP objects, no trailing statements; SQLite's
 * own schema loader ignores anything after the first statement, db.exec would not).
 */
function createFromImage(db: Database.Database, o: MasterRow): void {
  const sql = o.sql ?? '';
  const pattern = CREATE_BY_TYPE[o.type];
  if (!pattern?.test(sql)) {
    throw new SnapshotFormatError(`unexpected schema SQL for ${o.type} "${o.name}"`, {
      details: sql.slice(0, 200),
    });
  }
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(sql); // throws on more than one statement
  } catch (e) {
    throw new SnapshotFormatError(`cannot create ${o.type} "${o.name}" from the image`, {
      cause: e,
    });
  }
  stmt.run();
}

function imgHasSequence(db: Database.Database): boolean {
  return (
    (db
      .prepare(
        `SELECT count(*) FROM ${ALIAS}.sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`,
      )
      .pluck()
      .get() as number) > 0
  );
}
