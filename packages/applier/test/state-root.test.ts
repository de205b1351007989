import type { DatabaseSync } from 'node:sqlite';
import { keccak256Js } from '@synddb/protocol';
import { testSeed } from '@synddb/test-support';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addStateHashChunk,
  applyChangeset,
  applyStateDelta,
  changesetStateDelta,
  hashElement,
  LTHASH_BYTES,
  LtHash16,
  RowElementWriter,
  selectStateRootKernel,
  stateHashChunks,
  stateHashOfDatabase,
  stateRootKernel,
  stateRootOfDatabase,
  ValueType,
} from '../src/index';
import { record, testDatabases } from './helpers';

const dbs = testDatabases('synddb-state-root-');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const SCHEMA = `
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w, r REAL);
CREATE TABLE u(a TEXT, b INTEGER, c BLOB, PRIMARY KEY (b, a)) WITHOUT ROWID;
CREATE TABLE _synddb_private(k INTEGER PRIMARY KEY, v);
`;

/** A replica that applies every changeset and keeps its root incrementally, like the sync engine. */
function incrementalReplica(schema = SCHEMA) {
  const db = dbs.ours(schema);
  const hash = stateHashOfDatabase(db);
  // the same with the UPDATEs left undecoded in the changeset (what the prepare workers send)
  const undecodedHash = new LtHash16(hash.lanes);
  const readers = new Map();
  return {
    db,
    hash,
    undecodedHash,
    apply(changeset: Uint8Array) {
      db.transaction(() => {
        const result = applyChangeset(db, changeset, { transaction: 'caller' });
        expect(result.omitted).toBe(0);
        applyStateDelta(db, hash, changesetStateDelta(changeset), readers);
        const undecoded = changesetStateDelta(changeset, { decodeUpdates: false });
        expect(undecoded.updates).toEqual([]);
        applyStateDelta(db, undecodedHash, undecoded, readers);
      })();
    },
  };
}

// Every test below runs with each BLAKE3 kernel this machine has (native levels, WebAssembly):
// the golden vectors and roots are the same whichever computes them.
describe.each(stateRootKernel().available)('with the %s kernel', (kernel) => {
  beforeAll(() => {
    selectStateRootKernel(kernel);
  });
  afterAll(() => {
    selectStateRootKernel('auto');
  });

  describe('LtHash16', () => {
    it('is a multiset hash: order-independent, add then remove is the identity', () => {
      const a = new TextEncoder().encode('a');
      const b = new TextEncoder().encode('b');
      const x = new LtHash16();
      x.add(a);
      x.add(b);
      x.add(a);
      const y = new LtHash16();
      y.add(a);
      y.add(a);
      y.add(b);
      expect(x.equals(y)).toBe(true);
      y.remove(a);
      expect(x.equals(y)).toBe(false);
      y.add(a);
      y.remove(b);
      y.remove(a);
      y.remove(a);
      expect(hex(y.digest())).toBe(hex(new LtHash16().digest()));
      expect(LtHash16.fromBytes(x.toBytes()).equals(x)).toBe(true);
    });

    it('hashes elements with the BLAKE3 XOF into 1024 little-endian 16-bit lanes (golden vectors)', () => {
      // Independent (Debian's b3sum, the Rust crate): printf abc | b3sum --length 2048 --no-names
      // gives 6437b3ac38465133… ending in …d250
      const lanes = hashElement(new TextEncoder().encode('abc'));
      const bytes = new Uint8Array(lanes.buffer, lanes.byteOffset, LTHASH_BYTES);
      expect(hex(bytes.subarray(0, 8))).toBe('6437b3ac38465133');
      expect(hex(bytes.subarray(2046))).toBe('d250');
      expect(lanes[1023]).toBe(0x50d2);
      // the official BLAKE3 test vector for the empty input, 131 bytes of extended output
      const empty = hashElement(new Uint8Array(0));
      expect(hex(new Uint8Array(empty.buffer, empty.byteOffset, 131))).toBe(
        'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262e00f03e7b69af26b7faaf09fcd333050338ddfe085b8cc869ca98b206c08243a26f5487789e8f660afe6c99ef9e0c52b92e7393024a80459cf91f476f9ffdbda7001c22e159b402631f277ca96f2defdf1078282314e763699a31c5363165421cce14d',
      );
      // the root is keccak256 of the 2048 state bytes (checked with the pure-JS keccak)
      const h = new LtHash16();
      h.add(new TextEncoder().encode('abc'));
      expect(hex(h.digest())).toBe(hex(keccak256Js(h.toBytes())));
      expect(hex(new LtHash16().digest())).toBe(hex(keccak256Js(new Uint8Array(LTHASH_BYTES))));
    });
  });

  describe('row elements', () => {
    const element = (table: string, values: [number, unknown][]) => {
      const w = new RowElementWriter();
      w.begin(table, values.length);
      for (const [t, v] of values) w.value(t, v as never);
      return hex(w.finish());
    };

    it('keep every storage class apart: 1 vs 1.0 vs "1" vs x"31", NULL, and -0.0 as 0.0', () => {
      const forms = [
        element('t', [[ValueType.Integer, 1]]),
        element('t', [[ValueType.Real, 1]]),
        element('t', [[ValueType.Text, '1']]),
        element('t', [[ValueType.Blob, new Uint8Array([0x31])]]),
        element('t', [[ValueType.Null, null]]),
      ];
      expect(new Set(forms).size).toBe(5);
      expect(element('t', [[ValueType.Real, -0]])).toBe(element('t', [[ValueType.Real, 0]]));
      expect(element('T', [[ValueType.Integer, 1n]])).toBe(element('t', [[ValueType.Integer, 1]]));
      // length-prefixed: ('ab', 'c') and ('a', 'bc') differ
      expect(
        element('t', [
          [ValueType.Text, 'ab'],
          [ValueType.Text, 'c'],
        ]),
      ).not.toBe(
        element('t', [
          [ValueType.Text, 'a'],
          [ValueType.Text, 'bc'],
        ]),
      );
    });
  });

  describe('the state root of a database', () => {
    it("is keccak256 of the one element's BLAKE3 XOF lanes for a one-row table (golden root)", () => {
      // Independent: the element's bytes piped through `b3sum --length 2048 --raw` (Debian's
      // b3sum), then keccak256Js of those 2048 bytes (one element: the state is its lanes)
      const db = dbs.ours('CREATE TABLE T(id INTEGER PRIMARY KEY, v TEXT);');
      db.exec("INSERT INTO T VALUES (1, 'a')");
      const w = new RowElementWriter();
      w.begin('T', 2);
      w.value(ValueType.Integer, 1);
      w.value(ValueType.Text, 'a');
      expect(hex(w.finish())).toBe(
        '73796e6464622f73746174652d726f772f763100000000017400000002010000000000000001030000000161',
      );
      expect(hex(stateRootOfDatabase(db))).toBe(
        '5cf8b4b67dba3d54a90b2496920961f423925bed7f2da9a9ffbf206bbed4244d',
      );
      db.close();
    });

    it('differs for any single-row difference (affinity, blob vs text, NULL vs missing row)', () => {
      const base = (extra: string) => {
        const db = dbs.ours(
          'CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE TABLE e(x PRIMARY KEY);',
        );
        db.exec("INSERT INTO t VALUES (1, 'a'), (2, 2.5)");
        if (extra !== '') db.exec(extra);
        const root = hex(stateRootOfDatabase(db));
        db.close();
        return root;
      };
      const roots = [
        base(''),
        base('INSERT INTO t VALUES (3, NULL)'),
        base('INSERT INTO t VALUES (3, 1)'),
        base('INSERT INTO t VALUES (3, 1.0)'),
        base("INSERT INTO t VALUES (3, '1')"),
        base("INSERT INTO t VALUES (3, x'31')"),
        base("UPDATE t SET v = 'b' WHERE id = 1"),
        base("UPDATE t SET v = x'61' WHERE id = 1"),
        base('INSERT INTO e VALUES (NULL)'),
        base('DELETE FROM t WHERE id = 2'),
        base('UPDATE t SET id = 4 WHERE id = 2'),
      ];
      expect(new Set(roots).size).toBe(roots.length);
      // the bookkeeping tables and sqlite_* are not state
      expect(base('CREATE TABLE _synddb_x(a); INSERT INTO _synddb_x VALUES (1); ANALYZE')).toBe(
        roots[0],
      );
    });

    it('is the sum of its chunks (rowid ranges, WITHOUT ROWID tables, shadowed rowids)', () => {
      const db = dbs.ours(`
        CREATE TABLE dense(id INTEGER PRIMARY KEY, v TEXT);
        CREATE TABLE sparse(a, b);
        CREATE TABLE wr(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
        CREATE TABLE shadow(rowid TEXT, _rowid_ INTEGER, oid REAL);
        CREATE TABLE partly(rowid TEXT, v);
        CREATE TABLE empty(x);
        CREATE TABLE _synddb_skip(x);`);
      db.exec('BEGIN');
      const dense = db.prepare('INSERT INTO dense VALUES (?, ?)');
      for (let i = -3000; i < 9000; i++) dense.run(i, `v${i}`);
      const sparse = db.prepare('INSERT INTO sparse(rowid, a, b) VALUES (?, ?, ?)');
      for (const id of [-(2n ** 63n), -5n, 0n, 1n, 2n ** 40n, 2n ** 63n - 1n]) {
        sparse.run(id, String(id), Buffer.from(String(id)));
      }
      for (let i = 0; i < 50; i++) {
        db.prepare('INSERT INTO wr VALUES (?, ?)').run(`k${i}`, i / 2);
        db.prepare('INSERT INTO shadow VALUES (?, ?, ?)').run(`r${i}`, i, i * 1.5);
        db.prepare('INSERT INTO partly VALUES (?, ?)').run(`r${i}`, i);
      }
      db.exec('INSERT INTO _synddb_skip VALUES (1); COMMIT');
      const chunks = stateHashChunks(db);
      const of = (t: string) => chunks.filter((c) => c.table === t);
      // 12,000 dense rowids in ranges of 4,096; the sparse table's span in at most 1,024
      expect(of('dense').map((c) => [c.from, c.to])).toEqual([
        [-3000n, 1095n],
        [1096n, 5191n],
        [5192n, 8999n],
      ]);
      expect(of('sparse').length).toBeLessThanOrEqual(1024);
      expect(of('wr')).toEqual([
        { table: 'wr', columns: ['k', 'v'], primaryKey: Uint8Array.from([1, 0]) },
      ]);
      expect(of('shadow')).toEqual([
        { table: 'shadow', columns: ['rowid', '_rowid_', 'oid'], primaryKey: new Uint8Array(3) },
      ]);
      expect(of('dense')[0]!.primaryKey).toEqual(Uint8Array.from([1, 0]));
      expect(of('partly').every((c) => c.rowid === '_rowid_')).toBe(true);
      expect(of('empty')).toEqual([]);
      expect(of('_synddb_skip')).toEqual([]);
      const lanes = new Uint16Array(LTHASH_BYTES / 2);
      let rows = 0;
      for (const c of chunks) rows += addStateHashChunk(db, c, lanes);
      expect(rows).toBe(12_000 + 6 + 150);
      expect(hex(new LtHash16(lanes).digest())).toBe(hex(stateRootOfDatabase(db)));
      // a chunk's rows are its range's only
      const one = new Uint16Array(LTHASH_BYTES / 2);
      expect(addStateHashChunk(db, of('dense')[1]!, one)).toBe(4096);
      db.close();
    });

    it('the incremental root equals the from-scratch root after random streams (fast-check)', () => {
      type Op =
        | { k: 'upsertT'; id: number; v: unknown; w: unknown; r: number | null }
        | { k: 'updateT'; id: number; v: unknown }
        | { k: 'rewriteT'; id: number; v: unknown; w: unknown; r: number | null }
        | { k: 'deleteT'; id: number }
        | { k: 'upsertU'; a: string; b: number; c: Uint8Array | null }
        | { k: 'deleteU'; a: string; b: number }
        | { k: 'private'; k2: number };
      const value = fc.oneof(
        fc.integer({ min: -3, max: 3 }),
        fc.constantFrom(2n ** 53n + 1n, -(2n ** 63n), 1.0, 1.5, -0, '1', '', 'héllo'),
        fc.uint8Array({ maxLength: 4 }),
        fc.constant(null),
      );
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({
          k: fc.constant('upsertT' as const),
          id: fc.integer({ min: 1, max: 8 }),
          v: value,
          w: value,
          r: fc.oneof(fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })),
        }),
        fc.record({
          k: fc.constant('updateT' as const),
          id: fc.integer({ min: 1, max: 8 }),
          v: value,
        }),
        // every non-key column set: an UPDATE that carries both rows (resolved without a read)
        fc.record({
          k: fc.constant('rewriteT' as const),
          id: fc.integer({ min: 1, max: 8 }),
          v: value,
          w: value,
          r: fc.oneof(fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true })),
        }),
        fc.record({ k: fc.constant('deleteT' as const), id: fc.integer({ min: 1, max: 8 }) }),
        fc.record({
          k: fc.constant('upsertU' as const),
          a: fc.constantFrom('x', 'y', 'Y'),
          b: fc.integer({ min: 0, max: 3 }),
          c: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 3 })),
        }),
        fc.record({
          k: fc.constant('deleteU' as const),
          a: fc.constantFrom('x', 'y', 'Y'),
          b: fc.integer({ min: 0, max: 3 }),
        }),
        fc.record({ k: fc.constant('private' as const), k2: fc.integer({ min: 0, max: 3 }) }),
      );
      const run = (source: DatabaseSync, o: Op) => {
        const bind = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v);
        switch (o.k) {
          case 'upsertT':
            source
              .prepare(
                'INSERT INTO t VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET v = excluded.v, r = excluded.r',
              )
              .run(o.id, bind(o.v) as never, bind(o.w) as never, o.r);
            break;
          case 'updateT':
            source.prepare('UPDATE t SET v = ? WHERE id = ?').run(bind(o.v) as never, o.id);
            break;
          case 'rewriteT':
            source
              .prepare('UPDATE t SET v = ?, w = ?, r = ? WHERE id = ?')
              .run(bind(o.v) as never, bind(o.w) as never, o.r, o.id);
            break;
          case 'deleteT':
            source.prepare('DELETE FROM t WHERE id = ?').run(o.id);
            break;
          case 'upsertU':
            source
              .prepare('INSERT INTO u VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET c = excluded.c')
              .run(o.a, o.b, o.c);
            break;
          case 'deleteU':
            source.prepare('DELETE FROM u WHERE a = ? AND b = ?').run(o.a, o.b);
            break;
          case 'private':
            source.prepare('INSERT OR REPLACE INTO _synddb_private VALUES (?, ?)').run(o.k2, 'x');
            break;
        }
      };
      fc.assert(
        fc.property(
          fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { maxLength: 12 }),
          (txs) => {
            const source = dbs.source(SCHEMA);
            const replica = incrementalReplica();
            try {
              for (const tx of txs) {
                const cs = record(source, (db) => {
                  db.exec('BEGIN');
                  for (const o of tx) run(db, o);
                  db.exec('COMMIT');
                });
                replica.apply(cs);
                expect(hex(replica.hash.digest())).toBe(hex(stateRootOfDatabase(replica.db)));
                expect(hex(replica.undecodedHash.digest())).toBe(hex(replica.hash.digest()));
              }
            } finally {
              source.close();
              replica.db.close();
            }
          },
        ),
        {
          numRuns: Number(process.env.STATE_ROOT_RUNS ?? 60),
          seed: testSeed('state root property'),
        },
      );
    });
  });
});
