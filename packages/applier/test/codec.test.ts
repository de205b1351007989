import { join } from 'node:path';
import { tempDir } from '@synddb/test-support';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Changeset,
  type ChangesetChange,
  ChangesetFormatError,
  type ColumnValue,
  concatChangesets,
  decodeChangeset,
  encodeChangeset,
  invertChangeset,
  iterateChangeset,
  summarizeChangeset,
  ValueType,
} from '../src/index';
import { dumpNative, openNative, record, recordPatchset } from './helpers';

const dir = tempDir('applier-codec-', { scope: 'file' });

let dbNo = 0;
function sample(): { cs: Uint8Array; ps: Uint8Array; cs0: Uint8Array } {
  const setup = (d: ReturnType<typeof openNative>) => {
    d.exec(`CREATE TABLE t(a TEXT, id INTEGER, r, b BLOB, PRIMARY KEY (id, a));
           CREATE TABLE k(id INTEGER PRIMARY KEY, v) ;`);
    return record(d, (x) => {
      x.prepare('INSERT INTO t VALUES (?,?,?,?)').run('x', 1, -0.0, new Uint8Array([1, 2]));
      x.prepare('INSERT INTO t VALUES (?,?,?,?)').run('日本', 2, 1.5, null);
      x.prepare('INSERT INTO k VALUES (?,?)').run(1, 2n ** 62n);
      x.prepare('INSERT INTO k VALUES (?,?)').run(2, 'two');
    });
  };
  const ops = (d: ReturnType<typeof openNative>) => {
    d.exec(`UPDATE t SET r = 9.25 WHERE id = 1`);
    d.exec(`DELETE FROM t WHERE id = 2`);
    d.prepare('INSERT INTO k VALUES (?,?)').run(3, -(2n ** 63n));
    d.exec(`UPDATE k SET v = 5 WHERE id = 2`);
  };
  const a = openNative(join(dir, `a${dbNo++}.db`));
  const b = openNative(join(dir, `b${dbNo++}.db`));
  const cs0 = setup(a);
  setup(b);
  const cs = record(a, ops);
  const ps = recordPatchset(b, ops);
  a.close();
  b.close();
  return { cs, ps, cs0 };
}

describe('decodeChangeset', () => {
  it('decodes typed operations: PK flags, undefined columns, bigint, -0.0, UTF-8, blobs', () => {
    const { cs0, cs } = sample();
    const d0 = decodeChangeset(cs0);
    expect(d0.patchset).toBe(false);
    const t = d0.tables.find((x) => x.name === 't')!;
    expect(t.columnCount).toBe(4);
    expect(t.primaryKey).toEqual([2, 1, 0, 0]);
    const rows = t.changes.map((c) => c.newValues);
    expect(rows).toContainEqual(['x', 1, -0, new Uint8Array([1, 2])]);
    expect(Object.is(rows.find((r) => r?.[0] === 'x')![2], -0)).toBe(true);
    expect(rows).toContainEqual(['日本', 2, 1.5, null]);
    const k = d0.tables.find((x) => x.name === 'k')!;
    expect(k.changes.map((c) => c.newValues)).toContainEqual([1, 2n ** 62n]);

    const d1 = decodeChangeset(cs);
    const upd = d1.tables.find((x) => x.name === 't')!.changes.find((c) => c.op === 'UPDATE')!;
    expect(upd.oldValues).toEqual(['x', 1, -0, undefined]);
    expect(upd.newValues).toEqual([undefined, undefined, 9.25, undefined]);
    const del = d1.tables.find((x) => x.name === 't')!.changes.find((c) => c.op === 'DELETE')!;
    expect(del.oldValues).toEqual(['日本', 2, 1.5, null]);
    const ins = d1.tables.find((x) => x.name === 'k')!.changes.find((c) => c.op === 'INSERT')!;
    expect(ins.newValues).toEqual([3, -(2n ** 63n)]);
    expect([...iterateChangeset(cs)].length).toBe(4);
  });

  it('round-trips changesets and patchsets byte for byte', () => {
    const { cs, ps, cs0 } = sample();
    for (const buf of [cs, cs0]) expect(encodeChangeset(decodeChangeset(buf))).toEqual(buf);
    const dp = decodeChangeset(ps);
    expect(dp.patchset).toBe(true);
    const pdel = dp.tables.find((x) => x.name === 't')!.changes.find((c) => c.op === 'DELETE')!;
    expect(pdel.oldValues).toEqual(['日本', 2, undefined, undefined]); // PK only
    expect(encodeChangeset(dp)).toEqual(ps);
    expect(() => invertChangeset(ps)).toThrow(TypeError);
  });

  it('summarizes tables, counts and primary keys', () => {
    const { cs } = sample();
    const s = summarizeChangeset(cs);
    expect(s.changes).toBe(4);
    expect([s.inserts, s.updates, s.deletes]).toEqual([1, 2, 1]);
    const t = s.tables.find((x) => x.name === 't')!;
    expect(t.primaryKeys.sort((x, y) => Number(x[0]) - Number(y[0]))).toEqual([
      [1, 'x'],
      [2, '日本'],
    ]);
  });

  it('rejects malformed input with ChangesetFormatError carrying the offset', () => {
    const cases: [number[], number][] = [
      [[0x12, 0], 0], // change before any table header
      [[0x54], 1], // truncated column count
      [[0x54, 2, 1], 2], // truncated PK flags
      [[0x54, 1, 1, 0x74], 3], // unterminated name
      [[0x54, 1, 0, 0x74, 0], 0], // no PK column
      [[0x54, 1, 1, 0x74, 0, 0x12, 0, 3, 0x8f, 0xff, 0xff, 0xff, 0x7f], 8], // text length beyond input
      [[0x54, 1, 1, 0x74, 0, 0x12, 0, 7], 7], // unknown value type
      [[0x54, 1, 1, 0x74, 0, 0x12, 0, 0], 7], // undefined in INSERT
      [[0x54, 1, 1, 0x74, 0, 0x12, 0, 1, 0, 0], 8], // truncated int64
      [[0x54, 1, 1, 0x74, 0, 0x33, 0], 5], // unknown op
      [[0x54, 1, 1, 0x74, 0, 0x12, 2, 5], 6], // indirect flag
      [[0x54, 1, 1, 0x74, 0, 0x12, 0, 3, 2, 0xc3, 0x28], 9], // invalid UTF-8
      [[0x54, 1, 1, 0x74, 0, 0x17, 0, 0, 5], 7], // UPDATE without old PK
    ];
    for (const [bytes, offset] of cases) {
      let err: unknown;
      try {
        decodeChangeset(new Uint8Array(bytes));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bytes)).toBeInstanceOf(ChangesetFormatError);
      expect((err as ChangesetFormatError).code).toBe('CHANGESET_FORMAT');
      expect((err as ChangesetFormatError).offset, JSON.stringify(bytes)).toBe(offset);
    }
    // a 9-byte varint claiming an enormous blob must not allocate
    const bomb = new Uint8Array([
      0x54, 1, 1, 0x74, 0, 0x12, 0, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00,
    ]);
    expect(() => decodeChangeset(bomb)).toThrow(ChangesetFormatError);
    expect(decodeChangeset(new Uint8Array(0))).toEqual({ patchset: false, tables: [] });
  });

  it('never throws anything but ChangesetFormatError on mutated changesets (fuzz)', () => {
    const { cs, ps, cs0 } = sample();
    const seeds = [cs, ps, cs0];
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.integer({ min: 0, max: 255 }),
            fc.constantFrom('set', 'insert', 'delete'),
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.option(fc.nat()),
        (which, edits, cut) => {
          const bytes = [...seeds[which]!];
          for (const [pos, b, kind] of edits) {
            const at = bytes.length === 0 ? 0 : pos % bytes.length;
            if (kind === 'set') bytes[at] = b;
            else if (kind === 'insert') bytes.splice(at, 0, b);
            else bytes.splice(at, 1);
          }
          const buf = new Uint8Array(
            cut === null ? bytes : bytes.slice(0, cut % (bytes.length + 1)),
          );
          const t0 = performance.now();
          try {
            const d = decodeChangeset(buf);
            summarizeChangeset(buf);
            // whatever decodes re-encodes and decodes to the same structure
            expect(decodeChangeset(encodeChangeset(d))).toEqual(d);
          } catch (e) {
            if (!(e instanceof ChangesetFormatError)) throw e;
          }
          // no input costs more than linear work (a quadratic path takes seconds); 1 s leaves
          // room for a GC pause or a descheduled process on a loaded machine
          expect(performance.now() - t0).toBeLessThan(1000);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const v: fc.Arbitrary<{ v: ColumnValue; t: number }> = fc.oneof(
  fc.integer().map((x) => ({ v: x, t: ValueType.Integer })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((x) => ({
    v: x >= -(2n ** 53n) + 1n && x <= 2n ** 53n - 1n ? Number(x) : x,
    t: ValueType.Integer,
  })),
  fc.double({ noNaN: true }).map((x) => ({ v: x, t: ValueType.Real })),
  fc.string({ unit: 'grapheme' }).map((x) => ({ v: x, t: ValueType.Text })),
  fc.uint8Array({ maxLength: 300 }).map((x) => ({ v: x, t: ValueType.Blob })),
  fc.constant({ v: null, t: ValueType.Null }),
);

describe('encodeChangeset', () => {
  it('round-trips arbitrary typed changesets', () => {
    const table = fc.integer({ min: 1, max: 5 }).chain((n) =>
      fc.record({
        name: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes('\0')),
        columnCount: fc.constant(n),
        primaryKey: fc
          .array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n })
          .map((pk) => (pk.some((x) => x !== 0) ? pk : [1, ...pk.slice(1)])),
        changes: fc.array(
          fc.tuple(
            fc.constantFrom('INSERT', 'UPDATE', 'DELETE'),
            fc.boolean(),
            fc.array(v, { minLength: n, maxLength: n }),
            fc.array(fc.option(v), { minLength: n, maxLength: n }),
          ),
          { maxLength: 5 },
        ),
      }),
    );
    fc.assert(
      fc.property(fc.array(table, { maxLength: 4 }), (tables) => {
        const cs: Changeset = {
          patchset: false,
          tables: tables.map((t) => ({
            name: t.name,
            columnCount: t.columnCount,
            primaryKey: t.primaryKey,
            changes: t.changes.map(([op, indirect, full, partial]): ChangesetChange => {
              const fv = full.map((x) => x.v);
              const ft = Uint8Array.from(full.map((x) => x.t));
              // UPDATE: old has PK + some columns, new has some columns
              const pv = partial.map((x, i) => (t.primaryKey[i] !== 0 ? full[i]!.v : x?.v));
              const pt = Uint8Array.from(
                partial.map((x, i) => (t.primaryKey[i] !== 0 ? full[i]!.t : (x?.t ?? 0))),
              );
              if (op === 'INSERT')
                return { op, indirect, oldValues: undefined, newValues: fv, newTypes: ft };
              if (op === 'DELETE')
                return { op, indirect, oldValues: fv, newValues: undefined, oldTypes: ft };
              return { op, indirect, oldValues: pv, newValues: fv, oldTypes: pt, newTypes: ft };
            }),
          })),
        };
        const bytes = encodeChangeset(cs);
        const back = decodeChangeset(bytes);
        expect(encodeChangeset(back)).toEqual(bytes);
        expect(back).toEqual(cs);
      }),
      { numRuns: 300 },
    );
  });
});

describe('concatChangesets', () => {
  it('has the combined effect of its inputs', () => {
    const db = openNative(join(dir, 'concat-src.db'));
    db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v)');
    const a = record(db, (d) => d.exec('INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)'));
    const b = record(db, (d) =>
      d.exec(
        'UPDATE t SET v = 20 WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 4)',
      ),
    );
    const c = record(db, (d) =>
      d.exec(
        'UPDATE t SET v = 40 WHERE id = 4; DELETE FROM t WHERE id = 1; INSERT INTO t VALUES (3, 33)',
      ),
    );
    const all = concatChangesets(a, b, c);
    const target = openNative(join(dir, 'concat-dst.db'));
    target.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v)');
    expect(target.applyChangeset(all)).toBe(true);
    expect(dumpNative(target, ['t'])).toEqual(dumpNative(db, ['t']));
    expect(summarizeChangeset(all).inserts).toBe(3); // 2, 3, 4 (1 inserted then deleted)
    db.close();
    target.close();
  });
});
