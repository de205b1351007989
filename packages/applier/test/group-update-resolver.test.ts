import type { DatabaseSync } from 'node:sqlite';
import { testSeed } from '@synddb/test-support';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addStateHashChunk,
  applyChangeset,
  applyStateDelta,
  changesetStateDelta,
  GroupUpdateResolver,
  LTHASH_LANES,
  LtHash16,
  stateHashChunks,
  stateHashOfDatabase,
  stateRootKernel,
  stateRootOfDatabase,
  UnresolvableUpdateError,
} from '../src/index';
import { record, testDatabases } from './helpers';

const dbs = testDatabases('synddb-group-resolver-');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const SCHEMA = `
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w, r REAL);
CREATE TABLE u(a TEXT, b INTEGER, c BLOB, d, PRIMARY KEY (b, a)) WITHOUT ROWID;
CREATE TABLE _synddb_private(k INTEGER PRIMARY KEY, v);
`;

type Op =
  | { k: 'insertT'; id: number; v: string; w: number | string | null; r: number }
  | { k: 'setV'; id: number; v: string }
  | { k: 'setW'; id: number; w: number | string | null }
  | { k: 'rewriteT'; id: number; v: string; w: number; r: number }
  | { k: 'deleteT'; id: number }
  | { k: 'upsertU'; a: string; b: number; c: Uint8Array | null; d: number }
  | { k: 'setD'; a: string; b: number; d: number | bigint }
  | { k: 'deleteU'; a: string; b: number }
  | { k: 'private'; k2: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant('insertT' as const),
    id: fc.integer({ min: 1, max: 6 }),
    v: fc.string({ maxLength: 3 }),
    w: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.string({ maxLength: 2 })),
    r: fc.double({ noNaN: true }),
  }),
  fc.record({
    k: fc.constant('setV' as const),
    id: fc.integer({ min: 1, max: 6 }),
    v: fc.string({ maxLength: 3 }),
  }),
  fc.record({
    k: fc.constant('setW' as const),
    id: fc.integer({ min: 1, max: 6 }),
    w: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.string({ maxLength: 2 })),
  }),
  fc.record({
    k: fc.constant('rewriteT' as const),
    id: fc.integer({ min: 1, max: 6 }),
    v: fc.string({ maxLength: 3 }),
    w: fc.integer(),
    r: fc.double({ noNaN: true }),
  }),
  fc.record({ k: fc.constant('deleteT' as const), id: fc.integer({ min: 1, max: 6 }) }),
  fc.record({
    k: fc.constant('upsertU' as const),
    a: fc.constantFrom('x', 'y', 'Y'),
    b: fc.integer({ min: 0, max: 3 }),
    c: fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 3 })),
    d: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({
    k: fc.constant('setD' as const),
    a: fc.constantFrom('x', 'y', 'Y'),
    b: fc.integer({ min: 0, max: 3 }),
    d: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(2n ** 62n)),
  }),
  fc.record({
    k: fc.constant('deleteU' as const),
    a: fc.constantFrom('x', 'y', 'Y'),
    b: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ k: fc.constant('private' as const), k2: fc.integer({ min: 0, max: 3 }) }),
);

const bind = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v);

function run(source: DatabaseSync, o: Op): void {
  switch (o.k) {
    case 'insertT':
      source
        .prepare('INSERT OR IGNORE INTO t VALUES (?, ?, ?, ?)')
        .run(o.id, o.v, bind(o.w) as never, o.r);
      break;
    case 'setV':
      source.prepare('UPDATE t SET v = ? WHERE id = ?').run(o.v, o.id);
      break;
    case 'setW':
      source.prepare('UPDATE t SET w = ? WHERE id = ?').run(bind(o.w) as never, o.id);
      break;
    case 'rewriteT':
      source
        .prepare('UPDATE t SET v = ?, w = ?, r = ? WHERE id = ?')
        .run(o.v, bind(o.w) as never, o.r, o.id);
      break;
    case 'deleteT':
      source.prepare('DELETE FROM t WHERE id = ?').run(o.id);
      break;
    case 'upsertU':
      source
        .prepare('INSERT INTO u VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET c = excluded.c')
        .run(o.a, o.b, o.c, o.d);
      break;
    case 'setD':
      source.prepare('UPDATE u SET d = ? WHERE a = ? AND b = ?').run(bind(o.d) as never, o.a, o.b);
      break;
    case 'deleteU':
      source.prepare('DELETE FROM u WHERE a = ? AND b = ?').run(o.a, o.b);
      break;
    case 'private':
      source.prepare('INSERT OR REPLACE INTO _synddb_private VALUES (?, ?)').run(o.k2, 'x');
      break;
  }
}

/** Each transaction's changeset, recorded on a node:sqlite source. */
function changesetsOf(source: DatabaseSync, txs: Op[][]): Uint8Array[] {
  return txs.map((tx) =>
    record(source, (db) => {
      db.exec('BEGIN');
      for (const o of tx) run(db, o);
      db.exec('COMMIT');
    }),
  );
}

/** A node:sqlite source, a replica and a read-only connection to it, closed after `run`. */
function withReplica(
  run: (source: DatabaseSync, writer: Database.Database, reader: Database.Database) => void,
) {
  const source = dbs.source(SCHEMA);
  const writer = dbs.ours(SCHEMA);
  const reader = new Database(writer.name, { readonly: true });
  try {
    run(source, writer, reader);
  } finally {
    reader.close();
    writer.close();
    source.close();
  }
}

/** Each changeset's UPDATEs to resolve (every one of them has some). */
const positionsOf = (changesets: Uint8Array[]) =>
  changesets.map(
    (c) => changesetStateDelta(c, { decodeUpdates: false }).undecodedUpdates!.positions,
  );

// The native overlay where this thread's kernel is native, and the JavaScript one everywhere.
const modes = stateRootKernel().kernel === 'wasm' ? ['javascript'] : ['native', 'javascript'];

describe.each(modes)('GroupUpdateResolver (%s overlay)', (mode) => {
  const resolverOf = (reader: Database.Database) => {
    const resolver = new GroupUpdateResolver(reader, { native: mode === 'native' });
    expect(resolver.native).toBe(mode === 'native');
    return resolver;
  };

  it('resolves a group of UPDATEs on the snapshot before it, as applyStateDelta does after', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 5 }), {
          minLength: 1,
          maxLength: 5,
        }),
        (groups) => {
          const source = dbs.source(SCHEMA);
          const writer = dbs.ours(SCHEMA);
          const reader = new Database(writer.name, { readonly: true });
          const resolver = resolverOf(reader);
          try {
            const inline = stateHashOfDatabase(writer);
            const viaResolver = new LtHash16(inline.lanes);
            let resolved = 0;
            let g = 0;
            for (const txs of groups) {
              const changesets = changesetsOf(source, txs).filter((c) => c.byteLength > 0);
              const deltas = changesets.map((c) =>
                changesetStateDelta(c, { decodeUpdates: false }),
              );
              const positions = deltas.map((d) => d.undecodedUpdates?.positions ?? null);
              // the reader's snapshot is taken before the group applies, or kept from an earlier
              // group with the overlay of every group since (every other group here)
              const fresh = g++ % 2 === 0 || !resolver.follows({ changesets, positions });
              if (fresh) {
                if (reader.inTransaction) reader.exec('COMMIT');
                resolver.clear();
                reader.exec('BEGIN');
                reader.prepare('SELECT count(*) FROM sqlite_schema').get();
              }
              writer.transaction(() => {
                for (const c of changesets) {
                  const result = applyChangeset(writer, c, { transaction: 'caller' });
                  expect(result.omitted + result.replaced).toBe(0);
                  applyStateDelta(writer, inline, changesetStateDelta(c));
                }
              })();
              // ... and the group is resolved after it committed: the snapshot still holds
              const slots: Uint16Array[] = [];
              const done: number[] = [];
              resolver.resolve(
                { changesets, positions },
                (slot) => {
                  slots[slot] = new Uint16Array(LTHASH_LANES);
                  return slots[slot]!;
                },
                (slot) => {
                  done.push(slot);
                  return true;
                },
              );
              const withUpdates = positions.filter((p) => p !== null).length;
              expect(done).toEqual(Array.from({ length: withUpdates }, (_, i) => i));
              resolved += withUpdates;
              for (const d of deltas) viaResolver.addLanes(d.lanes);
              for (const s of slots) viaResolver.addLanes(s);
              expect(hex(inline.digest())).toBe(hex(stateRootOfDatabase(writer)));
              expect(hex(viaResolver.digest())).toBe(hex(inline.digest()));
            }
            return resolved >= 0;
          } finally {
            if (reader.inTransaction) reader.exec('COMMIT');
            reader.close();
            writer.close();
            source.close();
          }
        },
      ),
      { numRuns: Number(process.env.STATE_ROOT_RUNS ?? 80), seed: testSeed('group resolver') },
    );
  });

  it('sees an UPDATE of a row inserted, updated or re-inserted earlier in the group', () => {
    withReplica((source, writer, reader) => {
      const before = changesetsOf(source, [
        [{ k: 'insertT', id: 1, v: 'a', w: 1, r: 1.5 }],
        [{ k: 'upsertU', a: 'x', b: 1, c: null, d: 0 }],
      ]);
      for (const c of before) applyChangeset(writer, c);
      const group = changesetsOf(source, [
        [{ k: 'setV', id: 1, v: 'b' }],
        [{ k: 'setW', id: 1, w: 'two' }],
        [{ k: 'deleteT', id: 1 }],
        [{ k: 'insertT', id: 1, v: 'c', w: null, r: -2 }],
        [{ k: 'setV', id: 1, v: 'd' }],
        [
          { k: 'insertT', id: 2, v: 'e', w: 3, r: 0 },
          { k: 'setW', id: 2, w: 4 },
        ],
        [{ k: 'setD', a: 'x', b: 1, d: 2n ** 62n }],
        [{ k: 'setD', a: 'x', b: 1, d: 3 }],
      ]);
      const deltas = group.map((c) => changesetStateDelta(c, { decodeUpdates: false }));
      const positions = deltas.map((d) => d.undecodedUpdates?.positions ?? null);
      const root = stateHashOfDatabase(writer);
      reader.exec('BEGIN');
      const slots: Uint16Array[] = [];
      resolverOf(reader).resolve(
        { changesets: group, positions },
        (slot) => {
          slots[slot] = new Uint16Array(LTHASH_LANES);
          return slots[slot]!;
        },
        () => true,
      );
      reader.exec('COMMIT');
      for (const c of group) applyChangeset(writer, c);
      for (const d of deltas) root.addLanes(d.lanes);
      for (const s of slots) root.addLanes(s);
      expect(slots.length).toBeGreaterThanOrEqual(5);
      expect(hex(root.digest())).toBe(hex(stateRootOfDatabase(writer)));
    });
  });

  it('takes the last walked changeset out of the overlay (undoLast)', () => {
    withReplica((source, writer, reader) => {
      const [insert, ...updates] = changesetsOf(source, [
        [{ k: 'insertT', id: 1, v: 'a', w: 1, r: 1.5 }],
        [{ k: 'setV', id: 1, v: 'b' }],
        [{ k: 'setW', id: 1, w: 'x' }],
        [{ k: 'setV', id: 1, v: 'c' }],
      ]);
      applyChangeset(writer, insert!);
      const positions = positionsOf(updates);
      reader.exec('BEGIN');
      /** Walks `walk` (indexes of `updates`), undoing after those in `undoAfter`; the last lanes. */
      const lanesOf = (walk: number[], undoAfter: number[] = []) => {
        const resolver = resolverOf(reader);
        expect(resolver.undoLast()).toBe(false);
        let lanes = new Uint16Array(LTHASH_LANES);
        for (const c of walk) {
          lanes = new Uint16Array(LTHASH_LANES);
          resolver.resolve(
            { changesets: [updates[c]!], positions: [positions[c]!] },
            () => lanes,
            () => true,
          );
          if (undoAfter.includes(c)) {
            expect(resolver.undoLast()).toBe(true);
            expect(resolver.undoLast()).toBe(false);
          }
        }
        return hex(new Uint8Array(lanes.buffer));
      };
      // the third UPDATE leaves w out: its rows have w = 'x' after the second, w = 1 without it
      const withSecond = lanesOf([0, 1, 2]);
      const withoutSecond = lanesOf([0, 2]);
      expect(withSecond).not.toBe(withoutSecond);
      expect(lanesOf([0, 1, 2], [1])).toBe(withoutSecond);
      reader.exec('COMMIT');
      // a new version of the same size replaces the last one in place (native): the undo puts
      // the bytes back
      const [setW, setV] = changesetsOf(source, [
        [{ k: 'setW', id: 1, w: 7 }],
        [{ k: 'setV', id: 1, v: 'z' }],
      ]);
      reader.exec('BEGIN');
      /** Walks each changeset in turn, undoing the one at `undo`; the last one's lanes. */
      const walk = (changesets: Uint8Array[], undo = -1) => {
        const resolver = resolverOf(reader);
        const positions = positionsOf(changesets);
        let lanes = new Uint16Array(LTHASH_LANES);
        changesets.forEach((c, i) => {
          lanes = new Uint16Array(LTHASH_LANES);
          resolver.resolve(
            { changesets: [c], positions: [positions[i]!] },
            () => lanes,
            () => true,
          );
          if (i === undo) expect(resolver.undoLast()).toBe(true);
        });
        return hex(new Uint8Array(lanes.buffer));
      };
      // the row read for setW, then taken back with it
      const alone = walk([setV!]);
      expect(walk([setW!, setV!])).not.toBe(alone);
      expect(walk([setW!, setV!], 0)).toBe(alone);
      // a row the overlay had before: its version replaced in place, then put back
      const [a, b, c] = changesetsOf(source, [
        [{ k: 'setV', id: 1, v: 'y' }],
        [{ k: 'setW', id: 1, w: 8 }],
        [{ k: 'setV', id: 1, v: 'q' }],
      ]);
      expect(walk([a!, b!, c!])).not.toBe(walk([a!, c!]));
      expect(walk([a!, b!, c!], 1)).toBe(walk([a!, c!]));
      reader.exec('COMMIT');
    });
  });

  it('stops when done() says so, and refuses an UPDATE of a row that does not exist', () => {
    withReplica((source, writer, reader) => {
      const [insert, ...updates] = changesetsOf(source, [
        [{ k: 'insertT', id: 1, v: 'a', w: 1, r: 1.5 }],
        [{ k: 'setV', id: 1, v: 'b' }],
        [{ k: 'setV', id: 1, v: 'c' }],
      ]);
      const positions = positionsOf(updates);
      const resolver = resolverOf(reader);
      const lanes = () => new Uint16Array(LTHASH_LANES);
      // the row is not in the replica yet
      expect(() => resolver.resolve({ changesets: updates, positions }, lanes, () => true)).toThrow(
        UnresolvableUpdateError,
      );
      applyChangeset(writer, insert!);
      const done: number[] = [];
      resolver.resolve({ changesets: updates, positions }, lanes, (slot) => {
        done.push(slot);
        return false;
      });
      expect(done).toEqual([0]);
      // a row deleted earlier in the group is not read from the snapshot, which still has it
      const [remove] = changesetsOf(source, [[{ k: 'deleteT', id: 1 }]]);
      resolver.clear();
      expect(() =>
        resolver.resolve(
          { changesets: [remove!, updates[0]!], positions: [null, positions[0]!] },
          lanes,
          () => true,
        ),
      ).toThrow(UnresolvableUpdateError);
    });
  });

  it('refuses to keep more row versions than maxOverlayBytes (a wide row updated again and again)', () => {
    const source = dbs.source('CREATE TABLE w(id INTEGER PRIMARY KEY, n TEXT, big BLOB);');
    const writer = dbs.ours('CREATE TABLE w(id INTEGER PRIMARY KEY, n TEXT, big BLOB);');
    const reader = new Database(writer.name, { readonly: true });
    try {
      const insert = record(source, (db) => {
        db.prepare("INSERT INTO w VALUES (1, '', ?)").run(new Uint8Array(64 * 1024));
      });
      applyChangeset(writer, insert);
      // each UPDATE leaves the 64 KiB column out and changes the row's size: every version of the
      // row keeps it (a version of the same size replaces the last one in the native overlay)
      const updates = Array.from({ length: 20 }, () =>
        record(source, (db) => db.exec("UPDATE w SET n = n || 'x' WHERE id = 1")),
      );
      const positions = positionsOf(updates);
      const lanes = () => new Uint16Array(LTHASH_LANES);
      const resolve = (maxOverlayBytes: number) => {
        const resolver = new GroupUpdateResolver(reader, {
          native: mode === 'native',
          maxOverlayBytes,
        });
        reader.exec('BEGIN');
        try {
          resolver.resolve({ changesets: updates, positions }, lanes, () => true);
        } finally {
          reader.exec('COMMIT');
        }
        return resolver.overlayBytes;
      };
      expect(() => resolve(1024 * 1024)).toThrow(/more than 1048576 bytes of row versions/);
      expect(resolve(4 * 1024 * 1024)).toBeGreaterThan(20 * 64 * 1024);
      expect(() => new GroupUpdateResolver(reader, { maxOverlayBytes: -1 })).toThrow(RangeError);
    } finally {
      reader.close();
      writer.close();
      source.close();
    }
  });

  it('resolves changesets of many UPDATEs: rows in the overlay and not, past the first list of missing rows', () => {
    withReplica((source, writer, reader) => {
      const rows = record(source, (db) => {
        db.exec('BEGIN');
        const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)');
        for (let id = 1; id <= 3000; id++) insert.run(id, `v ${id}`, id % 7, id / 8);
        db.exec('COMMIT');
      });
      applyChangeset(writer, rows);
      // 1,500 rows none of which the overlay has (more than one list of missing rows holds), then
      // 1,000 of which a third are in it (changed by the first), in blocks of every mix
      const changesets = [
        record(source, (db) => db.exec("UPDATE t SET v = 'even ' || id WHERE id % 2 = 0")),
        record(source, (db) => db.exec("UPDATE t SET v = 'third ' || id WHERE id % 3 = 0")),
      ];
      const positions = positionsOf(changesets);
      expect(positions.map((p) => p.length / 2)).toEqual([1500, 1000]);
      const inline = stateHashOfDatabase(writer);
      const viaResolver = new LtHash16(inline.lanes);
      const resolver = resolverOf(reader);
      reader.exec('BEGIN');
      try {
        reader.prepare('SELECT count(*) FROM sqlite_schema').get();
        writer.transaction(() => {
          for (const c of changesets) {
            applyChangeset(writer, c, { transaction: 'caller' });
            applyStateDelta(writer, inline, changesetStateDelta(c));
          }
        })();
        const slots = [new Uint16Array(LTHASH_LANES), new Uint16Array(LTHASH_LANES)];
        resolver.resolve(
          { changesets, positions },
          (slot) => slots[slot]!,
          () => true,
        );
        for (const c of changesets) {
          viaResolver.addLanes(changesetStateDelta(c, { decodeUpdates: false }).lanes);
        }
        for (const s of slots) viaResolver.addLanes(s);
        expect(hex(inline.digest())).toBe(hex(stateRootOfDatabase(writer)));
        expect(hex(viaResolver.digest())).toBe(hex(inline.digest()));
        expect(resolver.overlayRows).toBe(2000);
      } finally {
        reader.exec('COMMIT');
      }
    });
  });

  it('takes rows preloaded from their elements (a snapshot image just hashed) instead of reading them', () => {
    withReplica((source, writer, reader) => {
      const inserts = changesetsOf(source, [
        [
          { k: 'insertT', id: 1, v: 'a', w: 1, r: 1.5 },
          { k: 'insertT', id: 2, v: 'b', w: 'x', r: -2 },
        ],
        [{ k: 'upsertU', a: 'x', b: 1, c: null, d: 0 }],
      ]);
      for (const c of inserts) applyChangeset(writer, c);
      const updates = changesetsOf(source, [
        [
          { k: 'setV', id: 1, v: 'c' },
          { k: 'setV', id: 2, v: 'd' },
        ],
        [{ k: 'setD', a: 'x', b: 1, d: 4 }],
      ]);
      const positions = positionsOf(updates);
      /** Every row of the replica's state tables as elements, by table (as an image's hash sees them). */
      const rowsOf = (tamper = false) => {
        const tables = new Map<string, { pk: Uint8Array; elements: Uint8Array[] }>();
        for (const chunk of stateHashChunks(writer)) {
          const entry = tables.get(chunk.table) ?? { pk: chunk.primaryKey, elements: [] };
          tables.set(chunk.table, entry);
          addStateHashChunk(writer, chunk, new Uint16Array(LTHASH_LANES), undefined, (e) => {
            const copy = e.slice();
            // a different w for row 1 (an INTEGER, 9 bytes from the element's end: r is a REAL)
            if (tamper && chunk.table === 't' && copy[copy.length - 9 - 1] === 1)
              copy[copy.length - 10] = 7;
            entry.elements.push(copy);
          });
        }
        return tables;
      };
      const resolveWith = (rows?: ReturnType<typeof rowsOf>) => {
        const resolver = resolverOf(reader);
        reader.exec('BEGIN');
        try {
          for (const [table, { pk, elements }] of rows ?? []) {
            const bytes = Buffer.concat(elements);
            const descriptors = new Uint32Array(2 * elements.length);
            let at = 0;
            elements.forEach((e, i) => {
              descriptors[2 * i] = at;
              descriptors[2 * i + 1] = e.byteLength;
              at += e.byteLength;
            });
            const kept = resolver.preloadRows(table, pk, bytes, descriptors, elements.length);
            expect(kept).toBe(mode === 'native');
          }
          const lanes = new Uint16Array(LTHASH_LANES);
          resolver.resolve(
            { changesets: updates, positions },
            () => lanes,
            () => true,
          );
          return { lanes: hex(new Uint8Array(lanes.buffer)), rows: resolver.overlayRows };
        } finally {
          reader.exec('COMMIT');
        }
      };
      const read = resolveWith();
      const preloaded = resolveWith(rowsOf());
      expect(preloaded.lanes).toBe(read.lanes);
      if (mode === 'native') {
        expect(preloaded.rows).toBe(3);
        // the preloaded row is the one used: a different w in it changes the lanes
        expect(resolveWith(rowsOf(true)).lanes).not.toBe(read.lanes);
      }
    });
  });
});
