import { readFileSync, writeFileSync } from 'node:fs';
import { testSeed } from '@synddb/test-support';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addStateHashChunk,
  LTHASH_LANES,
  LtHash16,
  openStateHashFile,
  type StateHashChunk,
  type StateHashElementBatches,
  type StateHashFile,
  selectStateRootKernel,
  stateHashChunks,
  stateRootKernel,
  stateRootOfDatabase,
} from '../src/index';
import { loadNativeAddon } from '../src/state-root/native-kernel';
import { hasRealAffinity } from '../src/state-root/state-root-of-database';
import { testDatabases } from './helpers';

const dbs = testDatabases('synddb-state-hash-file-');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A database file written and closed (rollback journal: the file alone holds it). */
function writeDatabase(build: (db: Database.Database) => void, pageSize = 4096): string {
  const path = dbs.file('image');
  const db = new Database(path);
  db.pragma(`page_size = ${pageSize}`);
  db.pragma('journal_mode = DELETE');
  build(db);
  db.close();
  return path;
}

interface Hashed {
  lanes: string;
  elements: string[];
  rows: number;
}

/**
 * Every chunk's lanes and elements, through SQLite or (with `file`) from the file's pages; the
 * elements taken in batches (`StateHashElementBatches`, not hashed; from the pages of `again`,
 * another handle on the same file, with `file`) must be the same.
 */
function hashChunks(
  db: Database.Database,
  chunks: StateHashChunk[],
  file?: StateHashFile,
  again?: StateHashFile,
) {
  return chunks.map((chunk): Hashed => {
    const lanes = new Uint16Array(LTHASH_LANES);
    const elements: string[] = [];
    const rows = addStateHashChunk(db, chunk, lanes, undefined, (e) => elements.push(hex(e)), file);
    const batched: string[] = [];
    const batches = { calls: 0 };
    const sink: StateHashElementBatches = {
      batch(out, descriptors, count) {
        batches.calls++;
        expect(count).toBeGreaterThan(0);
        for (let i = 0; i < count; i++) {
          const at = descriptors[2 * i]!;
          batched.push(hex(out.subarray(at, at + descriptors[2 * i + 1]!)));
        }
      },
    };
    expect(addStateHashChunk(db, chunk, null, undefined, sink, again)).toBe(rows);
    expect(batched).toEqual(elements);
    // rows through SQLite come in batches of 1,024 at most
    if (file === undefined) expect(batches.calls).toBe(Math.ceil(rows / 1024));
    return { lanes: hex(new Uint8Array(lanes.buffer)), elements, rows };
  });
}

/** Hashes the file both ways; returns the file's counters. */
function expectSameBothWays(path: string): StateHashFile['stats'] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const chunks = stateHashChunks(db);
    const viaSql = hashChunks(db, chunks);
    const file = openStateHashFile(path);
    const again = openStateHashFile(path);
    expect(file).toBeDefined();
    try {
      expect(hashChunks(db, chunks, file, again)).toEqual(viaSql);
      expect(again!.stats).toEqual(file!.stats);
      return { ...file!.stats };
    } finally {
      file!.close();
      again!.close();
    }
  } finally {
    db.close();
  }
}

describe('hasRealAffinity (SQLite 3.1, rules in order)', () => {
  it.each([
    ['REAL', true],
    ['double precision', true],
    ['Float', true],
    ['FLOATING POINT', false], // INT wins
    ['', false],
    ['BLOB', false],
    ['NUMERIC', false],
    ['DECIMAL(10,5)', false],
    ['VARCHAR(10)', false],
    ['REALTEXT', false], // TEXT before REAL
    ['BIGINT', false],
  ])('%j -> %s', (type, real) => {
    expect(hasRealAffinity(type)).toBe(real);
  });
});

describe('stateHashChunks: which tables are read from the file', () => {
  it('rowid tables of a UTF-8 database, with the rowid alias and REAL columns flagged', () => {
    const path = writeDatabase((db) => {
      db.exec(`
        CREATE TABLE alias(id INTEGER PRIMARY KEY, r REAL, d DOUBLE, f FLOATING POINT, t);
        CREATE TABLE desc_key(id INTEGER PRIMARY KEY DESC, v);
        CREATE TABLE int_key(id INT PRIMARY KEY, v);
        CREATE TABLE pair(a, b, PRIMARY KEY (a, b));
        CREATE TABLE wr(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
        CREATE TABLE gen(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL);
        CREATE TABLE shadow(rowid, _rowid_, oid);
        INSERT INTO alias VALUES (1, 1, 1, 1, 1);
        INSERT INTO desc_key VALUES (1, 1);
        INSERT INTO int_key VALUES (1, 1);
        INSERT INTO pair VALUES (1, 1);
        INSERT INTO wr VALUES ('a', 1);
        INSERT INTO gen(a) VALUES (1);
        INSERT INTO shadow VALUES (1, 2, 3);
      `);
    });
    const db = new Database(path, { readonly: true });
    const direct = Object.fromEntries(stateHashChunks(db).map((c) => [c.table, c.direct]));
    db.close();
    expect([...direct.alias!.flags]).toEqual([2, 1, 1, 0, 0]);
    expect(direct.alias!.rootPage).toBeGreaterThan(1);
    // INTEGER PRIMARY KEY DESC and INT PRIMARY KEY are not rowid aliases (they have an index)
    expect([...direct.desc_key!.flags]).toEqual([0, 0]);
    expect([...direct.int_key!.flags]).toEqual([0, 0]);
    expect([...direct.pair!.flags]).toEqual([0, 0]);
    expect(direct.wr).toBeUndefined();
    expect(direct.gen).toBeUndefined();
    expect(direct.shadow).toBeUndefined();
    expectSameBothWays(path);
  });

  it('plans without reading the tables: a seek to each end of the B-tree, not a scan', () => {
    // 20,000 rows on many leaf pages, one leaf in the middle damaged: a scan fails there, the
    // plan (each table's first and last rowid) never reads it
    const path = writeDatabase((db) => {
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
      const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
      db.transaction(() => {
        for (let i = 1; i <= 20_000; i++) insert.run(i, `row ${i}`.padEnd(40, '.'));
      })();
    });
    const bytes = readFileSync(path);
    const pages = bytes.length / 4096;
    expect(pages).toBeGreaterThan(100);
    const middle = Math.floor(pages / 2);
    expect(bytes[middle * 4096]).toBe(0x0d); // a table leaf (rows inserted in rowid order)
    bytes.fill(0xff, middle * 4096, middle * 4096 + 16);
    writeFileSync(path, bytes);
    const db = new Database(path, { readonly: true });
    try {
      expect(() => db.prepare('SELECT count(v) FROM t').get()).toThrow(/malformed/);
      const chunks = stateHashChunks(db);
      expect(chunks[0]!.from).toBe(1n);
      expect(chunks.at(-1)!.to).toBe(20_000n);
    } finally {
      db.close();
    }
  });

  it('not in a UTF-16 database (every chunk through SQLite)', () => {
    const path = writeDatabase((db) => {
      db.pragma("encoding = 'UTF-16le'");
      db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'héllo')");
    });
    const db = new Database(path, { readonly: true });
    expect(stateHashChunks(db).every((c) => c.direct === undefined)).toBe(true);
    db.close();
    // the reader refuses the file itself too
    if (stateRootKernel().kernel !== 'wasm') expect(openStateHashFile(path)).toBeUndefined();
  });
});

describe.each(stateRootKernel().available)('with the %s kernel', (kernel) => {
  beforeAll(() => {
    selectStateRootKernel(kernel);
  });
  afterAll(() => {
    selectStateRootKernel('auto');
  });
  const native = kernel !== 'wasm';

  it(native ? 'reads files from their pages' : 'has no file reader', () => {
    const path = writeDatabase((db) => {
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 2)');
    });
    const file = openStateHashFile(path);
    expect(file !== undefined).toBe(native);
    file?.close();
  });

  it.runIf(native)(
    'the same elements as SQLite gives, for random tables, values and page sizes (fast-check)',
    () => {
      const declared = fc.constantFrom(
        'INTEGER',
        'REAL',
        'TEXT',
        'BLOB',
        '',
        'NUMERIC',
        'FLOATING POINT',
        'DOUBLE PRECISION',
        'VARCHAR(10)',
      );
      const value = fc.oneof(
        fc.constant(null),
        fc.integer({ min: -3, max: 3 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.constantFrom(127, 128, -129, 32768, 8388608, -2147483649, 2 ** 47, -(2 ** 47) - 1),
        fc.double({ noNaN: true }),
        fc.constantFrom(0, -0, 1.0, 3.5, 1e300),
        fc.string({ maxLength: 12, unit: 'grapheme' }),
        fc.uint8Array({ maxLength: 12 }),
        // past a page: overflow chains
        fc.integer({ min: 400, max: 70_000 }).map((n) => 'x'.repeat(n)),
        fc.integer({ min: 400, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
      );
      const key = fc.constantFrom(
        'id INTEGER PRIMARY KEY',
        'id INTEGER PRIMARY KEY DESC',
        'id TEXT PRIMARY KEY',
        'id',
      );
      const table = fc.record({
        key,
        types: fc.array(declared, { minLength: 1, maxLength: 5 }),
        rows: fc.array(
          fc.record({
            rowid: fc.option(
              fc.oneof(
                fc.integer({ min: -50, max: 5000 }),
                fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 40n),
              ),
            ),
            values: fc.array(value, { minLength: 5, maxLength: 5 }),
          }),
          { maxLength: 60 },
        ),
      });
      fc.assert(
        fc.property(
          fc.array(table, { minLength: 1, maxLength: 3 }),
          fc.constantFrom(512, 1024, 4096, 65536),
          (tables, pageSize) => {
            let rows = 0;
            const path = writeDatabase((db) => {
              tables.forEach((t, i) => {
                const columns = t.types.map((type, c) => `c${c} ${type}`);
                db.exec(`CREATE TABLE t${i}(${t.key}, ${columns.join(', ')})`);
                const alias = t.key === 'id INTEGER PRIMARY KEY';
                const names = [
                  ...(alias ? [] : ['rowid']),
                  'id',
                  ...t.types.map((_, c) => `c${c}`),
                ];
                const insert = db.prepare(
                  `INSERT OR IGNORE INTO t${i}(${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
                );
                for (const r of t.rows) {
                  const values = r.values.slice(0, t.types.length);
                  const rowid = r.rowid ?? null;
                  const id = t.key.includes('TEXT')
                    ? `k${String(r.values[0]).slice(0, 8)}`
                    : r.values[1];
                  const bound = alias ? [rowid, ...values] : [rowid, id, ...values];
                  rows += insert.run(...bound).changes;
                }
              });
            }, pageSize);
            const stats = expectSameBothWays(path);
            // every row of these tables is read from the file
            expect(stats).toEqual({ rows, fallbacks: 0 });
          },
        ),
        { seed: testSeed('image rows vs SQLite'), numRuns: 60 },
      );
    },
  );

  it.runIf(native)(
    'rows it does not read (short records, invalid UTF-8) are read through SQLite',
    () => {
      const path = writeDatabase((db) => {
        db.exec(`
          CREATE TABLE grown(id INTEGER PRIMARY KEY, v);
          INSERT INTO grown VALUES (1, 'a'), (2, 'b');
          ALTER TABLE grown ADD COLUMN w DEFAULT 'later';
          INSERT INTO grown VALUES (3, 'c', 'w');
          CREATE TABLE bytes(id INTEGER PRIMARY KEY, t TEXT);
          INSERT INTO bytes VALUES (1, 'fine'), (2, CAST(x'ff00fe' AS TEXT)), (3, 'also fine');
        `);
      });
      const stats = expectSameBothWays(path);
      expect(stats.fallbacks).toBe(2);
      // the root from scratch sees the same: the default of the short rows, U+FFFD for the bytes
      const db = new Database(path, { readonly: true });
      const chunks = stateHashChunks(db);
      const lanes = new Uint16Array(LTHASH_LANES);
      const file = openStateHashFile(path)!;
      for (const c of chunks) addStateHashChunk(db, c, lanes, undefined, undefined, file);
      file.close();
      expect(hex(new LtHash16(lanes).digest())).toBe(hex(stateRootOfDatabase(db)));
      db.close();
    },
  );

  it.runIf(native)('takes only its own handles (an overlay handle is not an image)', () => {
    const path = writeDatabase((db) => {
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 2)');
    });
    const level = loadNativeAddon().addon![kernel as 'avx512' | 'avx2']!;
    const image = level.imageOpen(path)!;
    const overlay = level.overlayCreate(1 << 20);
    const rows = (h: unknown) =>
      level.imageRows(
        h as typeof image,
        2,
        0n,
        10n,
        new Uint8Array(8),
        new Uint8Array(2),
        new Uint8Array(64),
        new Uint32Array(8),
        new BigInt64Array(2),
      );
    expect(rows(image)).toBe(1);
    expect(() => rows(overlay)).toThrow(/not an image handle/);
    expect(() => rows({})).toThrow(TypeError);
    expect(() => level.overlayStats(image as never, new Float64Array(2))).toThrow(
      /not an overlay handle/,
    );
    level.imageClose(image);
    expect(rows(image)).toBe(-1); // closed: not taken
  });

  it.runIf(native)('an element larger than its output area grows the area', () => {
    const path = writeDatabase((db) => {
      db.exec('CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)');
      const insert = db.prepare('INSERT INTO big VALUES (?, ?)');
      insert.run(1, Buffer.alloc(10));
      insert.run(2, Buffer.alloc(3 * 1024 * 1024, 7));
      insert.run(3, Buffer.alloc(10, 1));
    });
    expect(expectSameBothWays(path)).toEqual({ rows: 3, fallbacks: 0 });
  });

  it.runIf(native)('many rows: the output area fills and the walk goes on from there', () => {
    const path = writeDatabase((db) => {
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r REAL)');
      const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?)');
      db.exec('BEGIN');
      for (let i = 0; i < 30_000; i++) insert.run(i * 3 - 7000, `value ${i}`.repeat(i % 7), i);
      db.exec('COMMIT');
    }, 1024);
    expect(expectSameBothWays(path)).toEqual({ rows: 30_000, fallbacks: 0 });
  });

  it.runIf(native)(
    'a damaged file: never more than SQLite reads, never a crash (fast-check)',
    () => {
      const path = writeDatabase((db) => {
        db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB, r REAL)');
        const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)');
        db.exec('BEGIN');
        for (let i = 0; i < 3000; i++) {
          insert.run(i, `v${i}`, i % 50 === 0 ? Buffer.alloc(1500, i) : null, i / 4);
        }
        db.exec('COMMIT');
      }, 1024);
      const image = readFileSync(path);
      const pages = image.byteLength / 1024;
      // where the interior pages start (type 0x05): damage there too, not only in the rows
      const interior: number[] = [];
      for (let p = 2; p <= pages; p++) if (image[(p - 1) * 1024] === 0x05) interior.push(p);
      expect(interior.length).toBeGreaterThan(0);
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              // page 1's header stays (a file SQLite does not open tells nothing)
              at: fc.oneof(
                fc.integer({ min: 100, max: image.byteLength - 1 }),
                fc
                  .tuple(fc.constantFrom(...interior), fc.integer({ min: 0, max: 1023 }))
                  .map(([p, offset]) => (p - 1) * 1024 + offset),
              ),
              byte: fc.integer({ min: 0, max: 255 }),
            }),
            { minLength: 1, maxLength: 8 },
          ),
          (edits) => {
            const damaged = Buffer.from(image);
            for (const e of edits) damaged[e.at] = e.byte;
            const copy = dbs.file('damaged');
            writeFileSync(copy, damaged);
            let viaSql: Hashed[] | undefined;
            let chunks: StateHashChunk[] = [];
            const db = new Database(copy, { readonly: true, fileMustExist: true });
            try {
              try {
                chunks = stateHashChunks(db);
                viaSql = hashChunks(db, chunks);
              } catch {
                viaSql = undefined; // SQLite reports the damage
              }
              const file = openStateHashFile(copy);
              if (file === undefined) return;
              const again = openStateHashFile(copy);
              let viaFile: Hashed[] | undefined;
              let failure: unknown;
              try {
                viaFile = hashChunks(db, chunks, file, again);
              } catch (error) {
                failure = error;
              } finally {
                file.close();
                again?.close();
              }
              if (viaSql !== undefined) {
                expect(failure).toBeUndefined();
                expect(viaFile).toEqual(viaSql);
              } else if (failure !== undefined) {
                // only SQLite's own errors, for rows the reader left to it
                expect((failure as { code?: string }).code).toMatch(/^SQLITE_/);
              }
            } finally {
              db.close();
            }
          },
        ),
        { seed: testSeed('damaged image'), numRuns: Math.min(400, pages * 4) },
      );
    },
  );
});
