import { testSeed } from '@synddb/test-support';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChangesetChange,
  type ChangesetTable,
  changesetStateDelta,
  encodeChangeset,
  LTHASH_BYTES,
  LTHASH_LANES,
  RowElementWriter,
  ValueType,
} from '../src/index';
import {
  type ChangesetStateDelta,
  referenceChangesetStateDelta,
  scriptChangesetStateDelta,
} from '../src/state-root/changeset-state-delta';
import { addDigestLanes } from '../src/state-root/lanes';
import {
  nativeChangesetDelta,
  selectStateRootKernel,
  stateRootKernel,
} from '../src/state-root/state-root-kernel';

// changesetStateDelta writes INSERT and DELETE elements straight from the changeset's bytes and
// adds the digests' lanes in place; referenceChangesetStateDelta decodes every value and writes
// the element from it. These properties hold them to the same result, or the same error.

const hex = (b: Uint8Array | Uint16Array) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function canonical(d: ChangesetStateDelta): string {
  return JSON.stringify({ lanes: hex(d.lanes), updates: d.updates }, (_k, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Uint8Array) return `x${hex(v)}`;
    if (typeof v === 'number' && Object.is(v, -0)) return '-0';
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    return v;
  });
}

/** Both functions' outcome: the delta, or the error's class and message. */
function outcome(f: (cs: Uint8Array) => ChangesetStateDelta, cs: Uint8Array): string {
  try {
    return canonical(f(cs));
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const value = fc.oneof(
  fc.record({ t: fc.constant(ValueType.Integer), v: fc.oneof(int64, fc.maxSafeInteger()) }),
  fc.record({
    t: fc.constant(ValueType.Integer),
    v: fc.constantFrom(0, -1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1)),
  }),
  fc.record({ t: fc.constant(ValueType.Real), v: fc.double() }),
  fc.record({ t: fc.constant(ValueType.Real), v: fc.constantFrom(-0, 0, 1.5, -1e300) }),
  fc.record({
    t: fc.constant(ValueType.Text),
    v: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ minLength: 100, maxLength: 300 }),
      fc.constantFrom('\uFEFFbom', 'héllo', '日本語', '😀', '\uFFFD'),
    ),
  }),
  fc.record({ t: fc.constant(ValueType.Blob), v: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ t: fc.constant(ValueType.Null), v: fc.constant(null) }),
);
type Value = { t: number; v: unknown };

const change = (columns: number) =>
  fc.record({
    op: fc.constantFrom('INSERT', 'DELETE', 'UPDATE'),
    old: fc.array(value, { minLength: columns, maxLength: columns }),
    new: fc.array(value, { minLength: columns, maxLength: columns }),
    changed: fc.array(fc.boolean(), { minLength: columns, maxLength: columns }),
  });

const table = fc
  .record({
    name: fc.constantFrom('t', 'Items', 'ÉTÉ', '_synddb_x', 'sqlite_stat1', 'u'),
    columns: fc.integer({ min: 1, max: 5 }),
  })
  .chain(({ name, columns }) =>
    fc.record({
      name: fc.constant(name),
      columns: fc.constant(columns),
      changes: fc.array(change(columns), { maxLength: 6 }),
    }),
  );

type TableCase = {
  name: string;
  columns: number;
  changes: { op: 'INSERT' | 'DELETE' | 'UPDATE'; old: Value[]; new: Value[]; changed: boolean[] }[];
};

function changesetOf(tables: TableCase[], patchset: boolean): Uint8Array {
  const out: ChangesetTable[] = tables.map((t) => {
    const primaryKey = Array.from({ length: t.columns }, (_, i) => (i === 0 ? 1 : 0));
    return {
      name: t.name,
      columnCount: t.columns,
      primaryKey,
      changes: t.changes.map((c): ChangesetChange => {
        const vals = (r: Value[]) => r.map((x) => x.v) as never[];
        const types = (r: Value[]) => Uint8Array.from(r.map((x) => x.t));
        if (c.op !== 'UPDATE') {
          const r = c.op === 'INSERT' ? c.new : c.old;
          return c.op === 'INSERT'
            ? {
                op: c.op,
                indirect: false,
                oldValues: undefined,
                newValues: vals(r),
                newTypes: types(r),
              }
            : {
                op: c.op,
                indirect: false,
                oldValues: vals(r),
                oldTypes: types(r),
                newValues: undefined,
              };
        }
        // an UPDATE carries the key and the changed columns; the rest undefined
        const pick = (r: Value[]) =>
          r.map((x, i) => (i === 0 || c.changed[i] ? x : { t: ValueType.Undefined, v: undefined }));
        const oldR = pick(c.old);
        const newR = pick(c.new).map((x, i) =>
          i === 0 ? { t: ValueType.Undefined, v: undefined } : x,
        );
        return {
          op: c.op,
          indirect: false,
          oldValues: vals(oldR),
          oldTypes: types(oldR),
          newValues: vals(newR),
          newTypes: types(newR),
        };
      }),
    };
  });
  return encodeChangeset({ patchset, tables: out });
}

const runs = Number(process.env.STATE_ROOT_RUNS ?? 200);

/** A random changeset or patchset, truncated and with a few bytes overwritten (undefined: none). */
const mutatedChangeset = fc
  .tuple(
    fc.array(table, { minLength: 1, maxLength: 3 }),
    fc.boolean(),
    fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 3 }),
    fc.nat(),
  )
  .map(([tables, patchset, flips, cut]) => {
    let cs: Uint8Array;
    try {
      cs = changesetOf(tables, patchset);
    } catch {
      return undefined; // a patchset UPDATE the encoder refuses
    }
    const mutated = cs.slice(0, cs.byteLength - (cut % 4 === 0 ? cut % 7 : 0));
    for (const f of flips) if (mutated.length > 0) mutated[f.at % mutated.length] = f.byte;
    return mutated;
  });

describe('changesetStateDelta (elements written from the changeset bytes)', () => {
  it('equals the decoding reference on random changesets (every storage class, UTF-8, -0.0)', () => {
    fc.assert(
      fc.property(fc.array(table, { maxLength: 4 }), (tables) => {
        const cs = changesetOf(tables, false);
        expect(canonical(changesetStateDelta(cs))).toBe(
          canonical(referenceChangesetStateDelta(cs)),
        );
      }),
      { numRuns: runs, seed: testSeed('state delta vs reference') },
    );
  });

  it('with decodeUpdates: false, gives the same lanes and the positions of the same UPDATEs', () => {
    let withUpdates = 0;
    fc.assert(
      fc.property(fc.array(table, { maxLength: 4 }), (tables) => {
        const cs = changesetOf(tables, false);
        const reference = referenceChangesetStateDelta(cs);
        const delta = changesetStateDelta(cs, { decodeUpdates: false });
        expect(hex(delta.lanes)).toBe(hex(reference.lanes));
        expect(delta.updates).toEqual([]);
        const positions = delta.undecodedUpdates?.positions ?? new Uint32Array(0);
        expect(positions.length).toBe(2 * reference.updates.length);
        if (positions.length > 0) withUpdates++;
        expect(delta.undecodedUpdates?.changeset ?? cs).toBe(cs);
        for (let i = 0; i < positions.length; i += 2) {
          expect(cs[positions[i]!]).toBe(0x54); // a changeset table header, 'T'
          expect(cs[positions[i + 1]!]).toBe(0x17); // an UPDATE record
        }
      }),
      { numRuns: runs, seed: testSeed('state delta undecoded updates') },
    );
    expect(withUpdates).toBeGreaterThan(0);
  });

  it('gives the same result or the same error on mutated changesets and on patchsets', () => {
    fc.assert(
      fc.property(mutatedChangeset, (mutated) => {
        if (mutated === undefined) return; // a patchset UPDATE the encoder refuses
        expect(outcome(changesetStateDelta, mutated)).toBe(
          outcome(referenceChangesetStateDelta, mutated),
        );
      }),
      { numRuns: runs * 2, seed: testSeed('state delta mutations') },
    );
  });

  it('refuses a patchset with ChangesetFormatError (no old values to hash), whichever pass', () => {
    const patchset = changesetOf(
      [
        {
          name: 't',
          columns: 2,
          changes: [
            {
              op: 'UPDATE',
              old: [
                { t: ValueType.Integer, v: 1 },
                { t: ValueType.Integer, v: 2 },
              ],
              new: [
                { t: ValueType.Integer, v: 1 },
                { t: ValueType.Integer, v: 3 },
              ],
              changed: [true, true],
            },
          ],
        },
      ],
      true,
    );
    for (const f of [
      changesetStateDelta,
      scriptChangesetStateDelta,
      referenceChangesetStateDelta,
    ]) {
      expect(outcome(f, patchset)).toMatch(
        /^ChangesetFormatError: .*patchset table in a changeset/,
      );
    }
  });

  it('takes a REAL NaN payload and invalid UTF-8 as the reference does', () => {
    const cs = changesetOf(
      [
        {
          name: 't',
          columns: 3,
          changes: [
            {
              op: 'INSERT',
              old: [],
              changed: [],
              new: [
                { t: ValueType.Integer, v: 1 },
                { t: ValueType.Real, v: 0.5 },
                { t: ValueType.Text, v: 'ab' },
              ],
            },
          ],
        },
      ],
      false,
    );
    const nan = cs.slice();
    const real = nan.indexOf(ValueType.Real, nan.length - 13);
    nan.set([0x7f, 0xf0, 0, 0, 0, 0, 0, 1], real + 1); // a signalling NaN's bytes
    expect(outcome(changesetStateDelta, nan)).toBe(outcome(referenceChangesetStateDelta, nan));
    const invalid = cs.slice();
    invalid[invalid.length - 1] = 0xff; // 'a', 0xff: not UTF-8
    expect(outcome(changesetStateDelta, invalid)).toMatch(/ChangesetFormatError: .*UTF-8/);
    expect(outcome(changesetStateDelta, invalid)).toBe(
      outcome(referenceChangesetStateDelta, invalid),
    );
  });
});

describe('RowElementWriter', () => {
  it('writes INTEGER numbers and TEXT as BigInt and TextEncoder would (any string)', () => {
    const plain = (table: string, values: Value[]) => {
      const parts: number[] = [];
      const u32 = (n: number) => parts.push(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
      const name = new TextEncoder().encode(table.replace(/[A-Z]+/g, (s) => s.toLowerCase()));
      parts.push(...new TextEncoder().encode('synddb/state-row/v1\0'));
      u32(name.length);
      parts.push(...name);
      u32(values.length);
      for (const { t, v } of values) {
        if (t === ValueType.Integer) {
          const b = new Uint8Array(8);
          new DataView(b.buffer).setBigInt64(0, BigInt(v as number | bigint));
          parts.push(1, ...b);
        } else {
          const b = new TextEncoder().encode(v as string);
          parts.push(3);
          u32(b.length);
          parts.push(...b);
        }
      }
      return hex(Uint8Array.from(parts));
    };
    const w = new RowElementWriter();
    fc.assert(
      fc.property(
        fc.constantFrom('t', 'T', 'Items'),
        fc.array(
          fc.oneof(
            fc.record({ t: fc.constant(ValueType.Integer), v: fc.maxSafeInteger() }),
            fc.record({ t: fc.constant(ValueType.Integer), v: fc.integer() }),
            fc.record({ t: fc.constant(ValueType.Integer), v: int64 }),
            fc.record({ t: fc.constant(ValueType.Text), v: fc.string({ unit: 'binary' }) }),
            fc.record({ t: fc.constant(ValueType.Text), v: fc.string({ unit: 'grapheme' }) }),
            fc.record({ t: fc.constant(ValueType.Text), v: fc.string({ maxLength: 2000 }) }),
          ),
          { maxLength: 6 },
        ),
        (name, values) => {
          w.begin(name, values.length);
          for (const { t, v } of values) w.value(t, v as never);
          expect(hex(w.finish())).toBe(plain(name, values));
        },
      ),
      { numRuns: runs * 2, seed: testSeed('row element writer') },
    );
    // lone surrogates become U+FFFD, as TextEncoder#encode makes them
    w.begin('t', 1);
    w.value(ValueType.Text, 'a\uD800b');
    expect(hex(w.finish())).toBe(plain('t', [{ t: ValueType.Text, v: 'a\uD800b' }]));
  });
});

describe('addDigestLanes', () => {
  it('adds and subtracts mod 2^16 per lane, from aligned and unaligned digests', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: LTHASH_BYTES * 2, maxLength: LTHASH_BYTES * 2 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (bytes, subtract, offset) => {
          const lanes = new Uint16Array(LTHASH_LANES);
          for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = bytes[i]! * 257;
          lanes[0] = 0xffff;
          lanes[1] = 0;
          const digest = new Uint8Array(bytes.buffer, offset, LTHASH_BYTES);
          const expected = lanes.map((x, i) => {
            const d = digest[2 * i]! | (digest[2 * i + 1]! << 8);
            return (subtract ? x - d : x + d) & 0xffff;
          });
          addDigestLanes(lanes, digest, subtract);
          expect(hex(lanes)).toBe(hex(expected));
        },
      ),
      { numRuns: 100, seed: testSeed('digest lanes') },
    );
  });
});

// The native pass (native/blake3-lthash-native.c, "changeset deltas") against the JavaScript pass
// and the reference, at each native level this machine has: the same lanes and UPDATE positions
// when it takes an input, a fallback (and then the JavaScript outcome, result or error) when not.
const nativeLevels = stateRootKernel().available.filter((k) => k !== 'wasm');

describe.each(nativeLevels)('the native changeset pass (%s)', (level) => {
  beforeAll(() => {
    selectStateRootKernel(level);
  });
  afterAll(() => {
    selectStateRootKernel('auto');
  });

  const positionsOf = (d: ChangesetStateDelta) =>
    Array.from(d.undecodedUpdates?.positions ?? new Uint32Array(0));

  it('takes well-formed changesets and gives the lanes and positions of the JavaScript pass', () => {
    let taken = 0;
    fc.assert(
      fc.property(fc.array(table, { maxLength: 4 }), (tables) => {
        const cs = changesetOf(tables, false);
        const native = nativeChangesetDelta(cs);
        const script = scriptChangesetStateDelta(cs, { decodeUpdates: false });
        if (native === undefined) {
          // only a REAL NaN (a non-canonical payload the JavaScript writer decides) is left
          return;
        }
        taken++;
        expect(hex(native.lanes)).toBe(hex(script.lanes));
        expect(Array.from(native.positions)).toEqual(positionsOf(script));
        expect(canonical(changesetStateDelta(cs))).toBe(
          canonical(referenceChangesetStateDelta(cs)),
        );
      }),
      { numRuns: runs, seed: testSeed(`native changeset pass ${level}`) },
    );
    expect(taken).toBeGreaterThan(runs * 0.8);
  });

  it('writes into the lanes it is given (zeroed first, reused from call to call)', () => {
    const into = new Uint16Array(LTHASH_LANES).fill(0xbeef);
    let taken = 0;
    fc.assert(
      fc.property(fc.array(table, { maxLength: 4 }), (tables) => {
        const cs = changesetOf(tables, false);
        const fresh = changesetStateDelta(cs, { decodeUpdates: false });
        const delta = changesetStateDelta(cs, { decodeUpdates: false, lanes: into });
        expect(hex(delta.lanes)).toBe(hex(fresh.lanes));
        expect(positionsOf(delta)).toEqual(positionsOf(fresh));
        if (delta.lanes === into) taken++;
      }),
      { numRuns: runs, seed: testSeed(`state delta into lanes ${level}`) },
    );
    expect(taken).toBeGreaterThan(runs * 0.8);
    expect(() =>
      changesetStateDelta(new Uint8Array(0), { lanes: new Uint16Array(LTHASH_LANES - 1) }),
    ).toThrow(RangeError);
  });

  it('gives the JavaScript outcome on mutated changesets and patchsets, and falls back on what it does not take', () => {
    let taken = 0;
    let declined = 0;
    fc.assert(
      fc.property(mutatedChangeset, (mutated) => {
        if (mutated === undefined) return;
        const native = nativeChangesetDelta(mutated);
        if (native === undefined) declined++;
        else {
          taken++;
          // what the native pass takes, the decoder takes too, with the same delta
          const script = scriptChangesetStateDelta(mutated, { decodeUpdates: false });
          expect(hex(native.lanes)).toBe(hex(script.lanes));
          expect(Array.from(native.positions)).toEqual(positionsOf(script));
        }
        expect(outcome(changesetStateDelta, mutated)).toBe(
          outcome(scriptChangesetStateDelta, mutated),
        );
        const undecoded = (c: Uint8Array) => changesetStateDelta(c, { decodeUpdates: false });
        const scriptUndecoded = (c: Uint8Array) =>
          scriptChangesetStateDelta(c, { decodeUpdates: false });
        expect(outcome(undecoded, mutated)).toBe(outcome(scriptUndecoded, mutated));
      }),
      { numRuns: runs * 2, seed: testSeed(`native changeset pass mutations ${level}`) },
    );
    expect(taken).toBeGreaterThan(0);
    expect(declined).toBeGreaterThan(0);
  });

  const insert = (values: Value[]): TableCase['changes'][number] => ({
    op: 'INSERT',
    old: [],
    changed: [],
    new: values,
  });

  it('normalises -0.0, lowers ASCII in table names only, skips sqlite_* and _synddb_* tables', () => {
    const cs = changesetOf(
      [
        {
          name: 'ÉtÉ_Items',
          columns: 2,
          changes: [
            insert([
              { t: ValueType.Integer, v: 1 },
              { t: ValueType.Real, v: -0 },
            ]),
            insert([
              { t: ValueType.Integer, v: 2 },
              { t: ValueType.Real, v: 0 },
            ]),
          ],
        },
        { name: 'SQLITE_stat1', columns: 1, changes: [insert([{ t: ValueType.Integer, v: 3 }])] },
        { name: '_SyndDB_x', columns: 1, changes: [insert([{ t: ValueType.Null, v: null }])] },
      ],
      false,
    );
    const native = nativeChangesetDelta(cs);
    expect(native).toBeDefined();
    expect(hex(native!.lanes)).toBe(hex(referenceChangesetStateDelta(cs).lanes));
    // the two rows' elements are equal (-0.0 is +0.0), names lower-cased as SQLite folds them
    const one = changesetOf(
      [
        {
          name: 'ÉtÉ_items',
          columns: 2,
          changes: [
            insert([
              { t: ValueType.Integer, v: 1 },
              { t: ValueType.Real, v: 0 },
            ]),
            insert([
              { t: ValueType.Integer, v: 2 },
              { t: ValueType.Real, v: 0 },
            ]),
          ],
        },
      ],
      false,
    );
    expect(hex(nativeChangesetDelta(one)!.lanes)).toBe(hex(native!.lanes));
  });

  it('declines a REAL NaN, invalid UTF-8 in a value or a table name, and a patchset', () => {
    const cs = changesetOf(
      [
        {
          name: 't',
          columns: 3,
          changes: [
            insert([
              { t: ValueType.Integer, v: 1 },
              { t: ValueType.Real, v: 0.5 },
              { t: ValueType.Text, v: 'ab' },
            ]),
          ],
        },
      ],
      false,
    );
    expect(nativeChangesetDelta(cs)).toBeDefined();
    const nan = cs.slice();
    const real = nan.indexOf(ValueType.Real, nan.length - 13);
    nan.set([0x7f, 0xf0, 0, 0, 0, 0, 0, 1], real + 1);
    expect(nativeChangesetDelta(nan)).toBeUndefined();
    expect(outcome(changesetStateDelta, nan)).toBe(outcome(referenceChangesetStateDelta, nan));
    const invalid = cs.slice();
    invalid[invalid.length - 1] = 0xff;
    expect(nativeChangesetDelta(invalid)).toBeUndefined();
    expect(outcome(changesetStateDelta, invalid)).toMatch(/ChangesetFormatError: .*UTF-8/);
    const badName = cs.slice();
    badName[badName.indexOf(0x74)] = 0xc0; // 't' -> an overlong lead byte
    expect(nativeChangesetDelta(badName)).toBeUndefined();
    expect(outcome(changesetStateDelta, badName)).toBe(
      outcome(referenceChangesetStateDelta, badName),
    );
    const patch = changesetOf([{ name: 't', columns: 1, changes: [] }], true);
    expect(nativeChangesetDelta(patch)).toBeUndefined();
  });

  it('hashes more elements than one run holds, elements larger than its area, and many UPDATEs', () => {
    const rows = 9000;
    const big = new Uint8Array(600 * 1024).map((_, i) => (i * 7) & 0xff);
    const changes: TableCase['changes'] = [];
    for (let i = 0; i < rows; i++) {
      changes.push(
        insert([
          { t: ValueType.Integer, v: i },
          { t: ValueType.Blob, v: i % 3000 === 0 ? big : new Uint8Array([i & 0xff]) },
          { t: ValueType.Null, v: null },
        ]),
      );
    }
    for (let i = 0; i < 5000; i++) {
      changes.push({
        op: 'UPDATE',
        old: [
          { t: ValueType.Integer, v: rows + i },
          { t: ValueType.Null, v: null },
          { t: ValueType.Real, v: i / 2 },
        ],
        new: [
          { t: ValueType.Integer, v: rows + i },
          { t: ValueType.Text, v: `v${i}` },
          { t: ValueType.Real, v: i },
        ],
        // every other one carries every column (resolved in the pass), the rest are listed
        changed: [true, true, i % 2 === 0],
      });
    }
    const cs = changesetOf([{ name: 'bulk', columns: 3, changes }], false);
    const native = nativeChangesetDelta(cs);
    expect(native).toBeDefined();
    expect(native!.positions.length).toBe(5000);
    const reference = referenceChangesetStateDelta(cs);
    expect(reference.updates.length).toBe(2500);
    expect(hex(native!.lanes)).toBe(hex(reference.lanes));
    expect(canonical(changesetStateDelta(cs))).toBe(canonical(reference));
  });
});
