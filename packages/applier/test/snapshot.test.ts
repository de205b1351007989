import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { restoreSnapshot, SnapshotFormatError, SnapshotTooLargeError } from '../src/index';
import { dumpOurs, openOurs } from './helpers';

const dir = tempDir('applier-snap-', { scope: 'file' });
let n = 0;

/** Builds a database file with better-sqlite3 and returns its bytes (journal_mode DELETE or WAL). */
function makeImage(tag: string, rows: number, wal = false): Uint8Array {
  const path = join(dir, `img${n++}.db`);
  const db = new Database(path);
  if (wal) db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL, v REAL);
    CREATE TABLE u(k TEXT, j INTEGER, tag TEXT, PRIMARY KEY (j, k)) WITHOUT ROWID;
    CREATE TABLE plain(x, y);
    CREATE INDEX t_tag ON t(tag);
    CREATE VIEW tv AS SELECT tag, count(*) AS c FROM t GROUP BY tag;
    CREATE TABLE log(msg TEXT);
    CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('ins ' || new.id); END;
    CREATE TABLE _synddb_cursor(seq INTEGER);
    INSERT INTO _synddb_cursor VALUES (999);
    PRAGMA user_version = 7;
  `);
  const ins = db.prepare('INSERT INTO t (tag, v) VALUES (?, ?)');
  const insU = db.prepare('INSERT INTO u VALUES (?, ?, ?)');
  const insP = db.prepare('INSERT INTO plain (rowid, x, y) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      ins.run(tag, i / 7);
      insU.run(`k${i}`, i, tag);
      insP.run(i * 10 + 5, i, tag);
    }
    db.exec('DELETE FROM t WHERE id = (SELECT max(id) FROM t)'); // sqlite_sequence stays ahead of max(id)
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return readFileSync(path);
}

function replica(): Database.Database {
  const db = openOurs(join(dir, `rep${n++}.db`));
  db.exec(`
    CREATE TABLE t(id INTEGER PRIMARY KEY, tag TEXT, extra BLOB);
    CREATE TABLE gone(a PRIMARY KEY);
    CREATE VIEW gv AS SELECT * FROM gone;
    CREATE TABLE _synddb_cursor(seq INTEGER);
    INSERT INTO _synddb_cursor VALUES (1);
    INSERT INTO t VALUES (1, 'live', NULL);
  `);
  return db;
}
const keepTable = (name: string) => name.startsWith('_synddb_');
const objects = (db: Database.Database) =>
  db
    .prepare(
      `SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
    )
    .all();

describe('restoreSnapshot', () => {
  it('replaces every user table, index, trigger and view and keeps reserved tables', async () => {
    const image = makeImage('new', 50);
    const db = replica();
    const res = await restoreSnapshot(db, image, { keepTable });
    expect(res).toEqual({ bytes: image.byteLength, tables: 4 });
    const src = new Database(Buffer.from(image));
    expect(dumpOurs(db, ['t', 'u', 'plain', 'log'])).toEqual(
      dumpOurs(src, ['t', 'u', 'plain', 'log']),
    );
    expect(objects(db)).toEqual(objects(src));
    expect(db.prepare('SELECT seq FROM _synddb_cursor').pluck().get()).toBe(1); // untouched
    expect(db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 't'`).pluck().get()).toBe(50);
    expect(db.prepare('SELECT * FROM tv').all()).toEqual([{ tag: 'new', c: 49 }]);
    db.prepare(`INSERT INTO t (tag) VALUES ('after')`).run();
    expect(db.prepare(`SELECT max(id) FROM t`).pluck().get()).toBe(51); // AUTOINCREMENT continues
    expect(db.prepare(`SELECT msg FROM log ORDER BY rowid DESC LIMIT 1`).pluck().get()).toBe(
      'ins 51',
    ); // trigger
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(readdirSync(dir).filter((f) => f.startsWith('.synddb-snapshot'))).toEqual([]);
    src.close();
    db.close();
  });

  it('accepts streams and WAL-mode images, calls beforeCommit inside the swap', async () => {
    const image = makeImage('s', 20, true);
    const db = replica();
    const chunks = [];
    for (let i = 0; i < image.byteLength; i += 1000)
      chunks.push(Buffer.from(image.subarray(i, i + 1000)));
    const res = await restoreSnapshot(db, Readable.from(chunks), {
      keepTable,
      beforeCommit: (d) => {
        expect(d.inTransaction).toBe(true);
        d.prepare('UPDATE _synddb_cursor SET seq = 42').run();
      },
    });
    expect(res.bytes).toBe(image.byteLength);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(19);
    expect(db.prepare('SELECT seq FROM _synddb_cursor').pluck().get()).toBe(42);
    async function* gen() {
      yield image.subarray(0, 10);
      yield image.subarray(10);
    }
    await restoreSnapshot(db, gen(), { keepTable });
    expect(db.prepare('SELECT count(*) FROM u').pluck().get()).toBe(20);
    db.close();
  });

  it('keeps the old content when beforeCommit throws', async () => {
    const db = replica();
    const before = dumpOurs(db, ['t', 'gone', '_synddb_cursor']);
    await expect(
      restoreSnapshot(db, makeImage('x', 5), {
        keepTable,
        beforeCommit: (d) => {
          d.prepare('UPDATE _synddb_cursor SET seq = 5').run();
          throw new Error('cursor write failed');
        },
      }),
    ).rejects.toThrow('cursor write failed');
    expect(dumpOurs(db, ['t', 'gone', '_synddb_cursor'])).toEqual(before);
    expect(objects(db).map((o) => (o as { name: string }).name)).toEqual([
      '_synddb_cursor',
      'gone',
      't',
      'gv',
    ]);
    expect(db.inTransaction).toBe(false);
    db.close();
  });

  it('rejects garbage, truncated and oversized images with typed errors and changes nothing', async () => {
    const db = replica();
    const before = dumpOurs(db, ['t', 'gone']);
    const image = makeImage('g', 200);
    const garbage = new Uint8Array(4096).map((_, i) => (i * 31) & 255);
    const wrongHeader = Buffer.concat([Buffer.from('SQLite format 4\0'), Buffer.alloc(200)]);
    const truncated = image.subarray(0, Math.floor(image.byteLength / 2));
    const corrupted = Buffer.from(image);
    corrupted.fill(0xa5, 4096 + 20, 4096 + 600); // scribble over the second page
    for (const bad of [garbage, wrongHeader, truncated, corrupted, new Uint8Array(0)]) {
      const err = await restoreSnapshot(db, bad, { keepTable }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SnapshotFormatError);
      expect((err as SnapshotFormatError).code).toBe('SNAPSHOT_FORMAT');
    }
    const big = await restoreSnapshot(db, Readable.from([Buffer.from(image)]), {
      maxBytes: 1000,
    }).catch((e) => e);
    expect(big).toBeInstanceOf(SnapshotTooLargeError);
    expect((big as SnapshotTooLargeError).code).toBe('SNAPSHOT_TOO_LARGE');
    await expect(restoreSnapshot(db, image, { maxBytes: 10 })).rejects.toBeInstanceOf(
      SnapshotTooLargeError,
    );
    expect(dumpOurs(db, ['t', 'gone'])).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.startsWith('.synddb-snapshot'))).toEqual([]);
    db.exec('BEGIN');
    await expect(restoreSnapshot(db, image)).rejects.toBeInstanceOf(TypeError);
    db.exec('ROLLBACK');
    db.close();
  });

  it('refuses schema SQL that smuggles extra statements', async () => {
    const path = join(dir, `evil${n++}.db`);
    const evil = new Database(path);
    evil.exec('CREATE TABLE t(a); INSERT INTO t VALUES (1);');
    evil.unsafeMode(true);
    evil.pragma('writable_schema = ON');
    evil
      .prepare(`UPDATE sqlite_master SET sql = ? WHERE name = 't'`)
      .run('CREATE TABLE t(a); DROP TABLE _synddb_cursor');
    evil.pragma('writable_schema = OFF');
    evil.close();
    const image = readFileSync(path);
    // (SQLite 3.54 already reports such a schema as malformed; the applier also runs every image
    // schema statement through prepare(), which refuses trailing statements, never exec())
    const db = replica();
    const err = await restoreSnapshot(db, image, { keepTable }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotFormatError);
    expect(db.prepare('SELECT seq FROM _synddb_cursor').pluck().get()).toBe(1);
    expect(dumpOurs(db, ['t']).t).toEqual(['I1|T"live"|N']);
    db.close();
  });

  it('a reader on another connection sees the old or the new content, never a mix', async () => {
    const path = join(dir, `concurrent${n++}.db`);
    const db = openOurs(path);
    const a = makeImage('A', 3000);
    const b = makeImage('B', 1500);
    await restoreSnapshot(db, a);
    const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const A = 'A:2999:A:3000';
    const B = 'B:1499:B:1500';
    // The worker reads in a loop and reports 'ready' after its first read and every change of the
    // observed state; after each restore the main thread waits until the worker has seen it, so
    // the test does not depend on scheduling (a loaded machine only makes it slower).
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const Database = require(workerData.lib);
      const db = new Database(workerData.path, { readonly: true });
      const seen = {}; const bad = []; let stop = false; let last;
      parentPort.on('message', () => { stop = true; });
      const sql = "SELECT (SELECT group_concat(DISTINCT tag) FROM t) AS t, (SELECT count(*) FROM t) AS tc, (SELECT group_concat(DISTINCT tag) FROM u) AS u, (SELECT count(*) FROM u) AS uc";
      function tick() {
        for (let i = 0; i < 20; i++) {
          let key;
          try {
            const r = db.prepare(sql).get();
            key = r.t + ':' + r.tc + ':' + r.u + ':' + r.uc;
          } catch (e) { key = String(e); }
          const ok = key === workerData.A || key === workerData.B;
          if (ok) seen[key] = (seen[key] || 0) + 1; else bad.push(key);
          if (last === undefined) parentPort.postMessage({ type: 'ready', key });
          else if (key !== last) parentPort.postMessage({ type: 'key', key });
          last = key;
        }
        if (stop) { parentPort.postMessage({ type: 'report', seen, bad }); db.close(); }
        else setImmediate(tick);
      }
      tick();
      `,
      { eval: true, workerData: { path, lib: betterSqlite, A, B } },
    );
    type Msg =
      | { type: 'ready' | 'key'; key: string }
      | { type: 'report'; seen: Record<string, number>; bad: string[] };
    let lastKey: string | undefined;
    let wake: (() => void) | undefined;
    let failure: unknown;
    let report: Extract<Msg, { type: 'report' }> | undefined;
    worker.on('message', (m: Msg) => {
      if (m.type === 'report') report = m;
      else {
        lastKey = m.key;
        if (m.key !== A && m.key !== B) failure ??= new Error(`the reader saw ${m.key}`);
      }
      wake?.();
    });
    worker.on('error', (e) => {
      failure = e;
      wake?.();
    });
    /** Resolves once cond() holds (re-checked on every worker message); rejects after 10 s. */
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        if (failure !== undefined) throw failure;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for the reader: ${what}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    };
    try {
      await until(() => lastKey !== undefined, 'ready');
      expect(lastKey).toBe(A);
      for (let i = 0; i < 6; i++) {
        const expected = i % 2 === 0 ? B : A;
        await restoreSnapshot(db, i % 2 === 0 ? b : a);
        await until(() => lastKey === expected, `restore ${i} (${expected})`);
      }
      worker.postMessage('stop');
      await until(() => report !== undefined, 'report');
    } finally {
      await worker.terminate();
    }
    expect(report?.bad).toEqual([]);
    expect(Object.keys(report?.seen ?? {}).sort()).toEqual([A, B]);
    db.close();
  });
});
