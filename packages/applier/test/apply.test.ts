import { afterAll, describe, expect, it } from 'vitest';
import {
  applyChangeset,
  applyPatchset,
  ChangesetConflictError,
  ChangesetFormatError,
  type ConflictAction,
  type ConflictInfo,
  type ConflictKind,
  decodeChangeset,
  encodeChangeset,
  SchemaMismatchError,
} from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  newApplyStats,
  openNative,
  openOurs,
  record,
  recordPatchset,
  tempDir,
} from './helpers';

const tmp = tempDir('applier-apply-');
afterAll(() => tmp.cleanup());
let n = 0;

const SCHEMA =
  'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w); CREATE TABLE u(a TEXT PRIMARY KEY, b);';

function source(schema = SCHEMA) {
  const src = openNative(tmp.path(`src${n++}.db`));
  src.exec(schema);
  return src;
}
function ours(schema = SCHEMA) {
  const db = openOurs(tmp.path(`ours${n++}.db`));
  db.exec(schema);
  return db;
}

describe('applyChangeset', () => {
  it('returns counts and leaves an empty changeset alone', () => {
    const src = source();
    const cs0 = record(src, (d) =>
      d.exec(`INSERT INTO t VALUES (1,'a',1),(2,'b',2),(3,'c',3); INSERT INTO u VALUES ('k', 1)`),
    );
    const cs1 = record(src, (d) =>
      d.exec(
        `UPDATE t SET v = 'bb' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4,'d',4)`,
      ),
    );
    const db = ours();
    expect(applyChangeset(db, new Uint8Array(0))).toEqual({
      inserted: 0,
      updated: 0,
      deleted: 0,
      omitted: 0,
      replaced: 0,
    });
    expect(applyChangeset(db, cs0)).toEqual({
      inserted: 4,
      updated: 0,
      deleted: 0,
      omitted: 0,
      replaced: 0,
    });
    expect(applyChangeset(db, cs1)).toEqual({
      inserted: 1,
      updated: 1,
      deleted: 1,
      omitted: 0,
      replaced: 0,
    });
    // re-applying cs0: INSERTs onto existing PKs are omitted by the default policy
    expect(applyChangeset(db, cs0)).toEqual({
      inserted: 1,
      updated: 0,
      deleted: 0,
      omitted: 3,
      replaced: 0,
    });
    expect(dumpOurs(db, ['t', 'u'])).toEqual({
      t: ['I1|T"a"|I1', 'I2|T"bb"|I2', 'I3|T"c"|I3', 'I4|T"d"|I4'],
      u: ['T"k"|I1'],
    });
  });

  it('aborts with a typed error naming kind, table, op and primary key; nothing is applied', () => {
    const src = source();
    const cs0 = record(src, (d) => d.exec(`INSERT INTO t VALUES (1,'a',1),(2,'b',2)`));
    const cs1 = record(src, (d) =>
      d.exec(`INSERT INTO t VALUES (5,'e',5); UPDATE t SET v = 'x' WHERE id = 2`),
    );
    const db = ours();
    applyChangeset(db, cs0);
    db.prepare(`UPDATE t SET v = 'drift' WHERE id = 2`).run();
    const err = (() => {
      try {
        applyChangeset(db, cs1);
      } catch (e) {
        return e;
      }
    })() as ChangesetConflictError;
    expect(err).toBeInstanceOf(ChangesetConflictError);
    expect(err.code).toBe('CHANGESET_CONFLICT');
    expect([err.conflictKind, err.table, err.op, err.primaryKey]).toEqual([
      'DATA',
      't',
      'UPDATE',
      [2],
    ]);
    expect(err.message).toContain('DATA');
    expect(err.message).toContain('UPDATE on table "t" with primary key (2)');
    expect(err.mismatchedColumns).toEqual(['v']);
    expect(err.details).toContain('column(s) "v"');
    expect(dumpOurs(db, ['t']).t).toEqual(['I1|T"a"|I1', 'I2|T"drift"|I2']); // the INSERT of 5 was rolled back
    expect(db.inTransaction).toBe(false);

    // NOTFOUND for a missing row; handler sees old/new values and the conflicting row
    const seen: ConflictInfo[] = [];
    db.prepare('DELETE FROM t WHERE id = 1').run();
    db.prepare('UPDATE t SET w = 5 WHERE id = 2').run();
    const cs2 = record(src, (d) =>
      d.exec(`DELETE FROM t WHERE id = 1; UPDATE t SET w = 9 WHERE id = 2`),
    );
    const res = applyChangeset(db, cs2, {
      onConflict: (info) => {
        seen.push(info);
        return info.kind === 'DATA' ? 'replace' : 'omit';
      },
    });
    expect(res).toMatchObject({ omitted: 1, replaced: 1 });
    const data = seen.find((s) => s.kind === 'DATA')!;
    expect(data.conflictingRow).toEqual([2, 'drift', 5]);
    expect(data.oldValues).toEqual([2, undefined, 2]);
    expect(data.newValues).toEqual([undefined, undefined, 9]);
    expect(seen.find((s) => s.kind === 'NOTFOUND')).toMatchObject({
      table: 't',
      op: 'DELETE',
      primaryKey: [1],
    });
    expect(dumpOurs(db, ['t']).t).toEqual(['I2|T"drift"|I9']);
    expect(() => applyChangeset(db, cs2, { onConflict: () => 'replace' })).toThrow(TypeError); // REPLACE on NOTFOUND
  });

  it('checks the schema: missing table, column count, primary key', () => {
    const src = source();
    const cs = record(src, (d) =>
      d.exec(`INSERT INTO t VALUES (1,'a',1); INSERT INTO u VALUES ('k', 1)`),
    );
    const missing = ours('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w);');
    const e1 = (() => {
      try {
        applyChangeset(missing, cs);
      } catch (e) {
        return e as SchemaMismatchError;
      }
    })()!;
    expect(e1).toBeInstanceOf(SchemaMismatchError);
    expect([e1.code, e1.table, e1.expectedColumns, e1.actualColumns, e1.missing]).toEqual([
      'SCHEMA_MISMATCH',
      'u',
      2,
      undefined,
      true,
    ]);
    expect(dumpOurs(missing, ['t']).t).toEqual([]); // rolled back
    const wider = ours(
      'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w, extra); CREATE TABLE u(a TEXT PRIMARY KEY, b);',
    );
    expect(() => applyChangeset(wider, cs)).toThrow(/has 4 columns, the changeset has 3/);
    const otherPk = ours(
      'CREATE TABLE t(id INTEGER, v TEXT PRIMARY KEY, w); CREATE TABLE u(a TEXT PRIMARY KEY, b);',
    );
    expect(() => applyChangeset(otherPk, cs)).toThrow(SchemaMismatchError);

    // checkSchema: false behaves like sqlite3changeset_apply: such tables are skipped
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w, extra);');
    expect(applyNative(nat, cs, () => 'abort')).toBe(true);
    const lax = ours('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w, extra);');
    applyChangeset(lax, cs, { checkSchema: false });
    expect(dumpOurs(lax, ['t'])).toEqual(dumpNative(nat, ['t']));
    // filter skips tables without looking at them
    applyChangeset(missing, cs, { filter: (name) => name !== 'u' });
    expect(dumpOurs(missing, ['t']).t).toEqual(['I1|T"a"|I1']);
    // skipped groups holding TEXT and BLOB values are stepped over correctly
    const blobs = source(
      'CREATE TABLE b(id INTEGER PRIMARY KEY, x BLOB, y TEXT); CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w);',
    );
    const cs3 = record(blobs, (d) => {
      d.prepare('INSERT INTO b VALUES (?, ?, ?)').run(
        1,
        new Uint8Array(300).fill(7),
        'é'.repeat(200),
      );
      d.exec(`INSERT INTO t VALUES (2, 'two', x'00ff')`);
    });
    const target = ours('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w);');
    applyChangeset(target, cs3, { filter: (name) => name === 't' });
    expect(dumpOurs(target, ['t']).t).toEqual(['I2|T"two"|B00ff']);
  });

  it('sees schema changes made between applies, on this connection or another', () => {
    const src = source();
    const cs1 = record(src, (d) => d.exec(`INSERT INTO t VALUES (1,'a',1)`));
    const cs2 = record(src, (d) => d.exec(`INSERT INTO t VALUES (2,'b',2)`));
    const cs3 = record(src, (d) => d.exec(`INSERT INTO t VALUES (3,'c',3)`));
    const path = tmp.path(`ours${n++}.db`);
    const db = openOurs(path);
    db.exec(SCHEMA);
    const other = openOurs(path);
    applyChangeset(db, cs1);
    other.exec('ALTER TABLE t ADD COLUMN extra');
    expect(() => applyChangeset(db, cs2)).toThrow(/has 4 columns, the changeset has 3/);
    other.exec('DROP TABLE t; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w);');
    applyChangeset(db, cs2);
    db.exec('DROP TABLE t; CREATE TABLE t(id INTEGER, v TEXT PRIMARY KEY, w);');
    expect(() => applyChangeset(db, cs3)).toThrow(SchemaMismatchError);
    other.close();
    expect(dumpOurs(db, ['t']).t).toEqual([]);
  });

  it("transaction: 'caller' applies inside the caller's transaction and rolls back only its own work", () => {
    const src = source();
    const cs0 = record(src, (d) => d.exec(`INSERT INTO t VALUES (1,'a',1)`));
    const bad = record(src, (d) =>
      d.exec(`INSERT INTO t VALUES (2,'b',2); UPDATE t SET v = 'z' WHERE id = 1`),
    );
    const db = ours();
    expect(() => applyChangeset(db, cs0, { transaction: 'caller' })).toThrow(TypeError);
    db.exec('BEGIN');
    expect(() => applyChangeset(db, cs0)).toThrow(TypeError); // 'own' inside an open transaction
    db.prepare(`INSERT INTO u VALUES ('mine', 1)`).run();
    applyChangeset(db, cs0, { transaction: 'caller' });
    expect(db.inTransaction).toBe(true);
    db.prepare(`UPDATE t SET v = 'drift' WHERE id = 1`).run();
    expect(() => applyChangeset(db, bad, { transaction: 'caller' })).toThrow(
      ChangesetConflictError,
    );
    expect(db.inTransaction).toBe(true);
    db.exec('COMMIT');
    expect(dumpOurs(db, ['t', 'u'])).toEqual({ t: ['I1|T"drift"|I1'], u: ['T"mine"|I1'] });
  });

  it('detects foreign-key violations at the end (FOREIGN_KEY), like native', () => {
    const schema = `CREATE TABLE p(id INTEGER PRIMARY KEY);
      CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id));`;
    const src = source(schema);
    src.exec('PRAGMA foreign_keys = OFF');
    const orphan = record(src, (d) => d.exec('INSERT INTO c VALUES (1, 99)'));
    const ok = record(src, (d) => d.exec('INSERT INTO c VALUES (2, 7); INSERT INTO p VALUES (7)')); // child first
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec(schema);
    const natLog: string[] = [];
    // native reports the FOREIGN_KEY conflict, then fails with "constraint failed" on abort
    expect(() => applyNative(nat, orphan, () => 'abort', natLog as never)).toThrow(
      /constraint failed/,
    );
    expect(natLog).toEqual(['FOREIGN_KEY']);
    expect(applyNative(nat, ok, () => 'abort')).toBe(true);

    for (const mode of ['own', 'caller'] as const) {
      const db = ours(schema);
      if (mode === 'caller') db.exec('BEGIN');
      const err = (() => {
        try {
          applyChangeset(db, orphan, { transaction: mode });
        } catch (e) {
          return e as ChangesetConflictError;
        }
      })()!;
      expect(err).toBeInstanceOf(ChangesetConflictError);
      expect(err.conflictKind).toBe('FOREIGN_KEY');
      applyChangeset(db, ok, { transaction: mode });
      if (mode === 'caller') db.exec('COMMIT');
      expect(dumpOurs(db, ['p', 'c'])).toEqual(dumpNative(nat, ['p', 'c']));
      expect(db.pragma('defer_foreign_keys', { simple: true })).toBe(0);
    }
  });

  it('applies wide tables (multi-row statements of 150 columns) like native', () => {
    for (const width of [8, 150]) {
      const cols = Array.from({ length: width }, (_, i) => `c${i}`);
      const schema = `CREATE TABLE w(id INTEGER PRIMARY KEY, ${cols.join(', ')});`;
      const src = source(schema);
      const row = (id: number, salt: string) =>
        `(${id}, ${cols.map((_, i) => (i % 3 === 0 ? `'${salt}${i}'` : i % 3 === 1 ? `${id * i}` : 'NULL')).join(', ')})`;
      const fill = Array.from({ length: 300 }, (_, i) => row(i + 1, 'a')).join(',');
      const cs0 = record(src, (d) => d.exec(`INSERT INTO w VALUES ${fill}`));
      const cs1 = record(src, (d) =>
        d.exec(`DELETE FROM w WHERE id <= 150; UPDATE w SET c0 = 'u', c1 = c1 + 1 WHERE id > 200`),
      );
      const nat = openNative(tmp.path(`nat${n++}.db`));
      nat.exec(schema);
      const db = ours(schema);
      for (const cs of [cs0, cs1]) {
        expect(applyNative(nat, cs, () => 'abort')).toBe(true);
        applyChangeset(db, cs);
      }
      expect(dumpOurs(db, ['w'])).toEqual(dumpNative(nat, ['w']));
      // drift on one row: the whole delete batch falls back and reports it as native does
      const cs2 = record(src, (d) => d.exec('DELETE FROM w WHERE id > 150'));
      db.prepare(`UPDATE w SET c2 = 'drift' WHERE id = 170`).run();
      nat.exec(`UPDATE w SET c2 = 'drift' WHERE id = 170`);
      const natLog: ConflictKind[] = [];
      expect(applyNative(nat, cs2, () => 'omit', natLog)).toBe(true);
      const log: ConflictKind[] = [];
      applyChangeset(db, cs2, {
        onConflict: (i) => {
          log.push(i.kind);
          return 'omit';
        },
      });
      expect(log).toEqual(natLog);
      expect(log).toEqual(['DATA']);
      expect(dumpOurs(db, ['w'])).toEqual(dumpNative(nat, ['w']));
      expect(dumpOurs(db, ['w']).w).toHaveLength(1);
    }
  });

  it('applies TEXT of every short length, ASCII or not, exactly (JS and utf8Slice decoders)', () => {
    // lengths 0..40 cross ASCII_TEXT_MAX; NUL, DEL, 2-4 byte UTF-8 and U+FFFD itself included
    const texts: string[] = [];
    const alphabet = ['a', 'Z', '0', ' ', '\u0000', '\u007f', 'é', '日', '😀', '\uFFFD'];
    for (let len = 0; len <= 40; len++) {
      texts.push('x'.repeat(len));
      for (let k = 0; k < alphabet.length; k++) {
        let s = '';
        for (let i = 0; i < len; i++) s += i === len - 1 ? alphabet[k] : alphabet[(i + k) % 4];
        texts.push(s);
      }
    }
    const schema = 'CREATE TABLE s(id INTEGER PRIMARY KEY, v TEXT, k TEXT);';
    const src = source(schema);
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO s VALUES (?, ?, ?)');
      for (const [i, t] of texts.entries()) ins.run(i, t, t.slice(0, 3));
    });
    const cs1 = record(src, (d) => {
      d.exec("UPDATE s SET v = v || 'é' WHERE id % 3 = 0; DELETE FROM s WHERE id % 3 = 1");
    });
    const db = ours(schema);
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec(schema);
    for (const cs of [cs0, cs1]) {
      expect(applyNative(nat, cs, () => 'abort')).toBe(true);
      applyChangeset(db, cs);
      expect(dumpOurs(db, ['s'])).toEqual(dumpNative(nat, ['s']));
    }
    const rows = db.prepare('SELECT id, v FROM s WHERE id % 3 = 2 ORDER BY id').all() as {
      id: number;
      v: string;
    }[];
    expect(rows.length).toBeGreaterThan(100);
    for (const r of rows) expect(r.v).toBe(texts[r.id]);
  });

  it('long UPDATE and DELETE runs: drift deep inside a savepoint group is reported like native', () => {
    // 2,500-change runs span several 16-statement groups; drifted rows sit in the middle of a
    // later group, so the whole group is rolled back and replayed row by row
    const schema = 'CREATE TABLE g(id INTEGER PRIMARY KEY, v TEXT, w REAL);';
    const src = source(schema);
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO g VALUES (?, ?, ?)');
      for (let i = 1; i <= 2500; i++) ins.run(i, `v${i}`, i / 4);
    });
    const csUpdate = record(src, (d) => d.exec("UPDATE g SET v = v || '!'"));
    const csDelete = record(src, (d) => d.exec('DELETE FROM g'));
    const drift =
      'UPDATE g SET v = NULL WHERE id IN (1777, 1901, 2450); DELETE FROM g WHERE id = 1800';
    for (const policy of ['omit', 'abort'] as const) {
      const db = ours(schema);
      const nat = openNative(tmp.path(`nat${n++}.db`));
      nat.exec(schema);
      expect(applyNative(nat, cs0, () => 'abort')).toBe(true);
      applyChangeset(db, cs0);
      for (const cs of [csUpdate, csDelete]) {
        db.exec(drift);
        nat.exec(drift);
        const natLog: ConflictKind[] = [];
        const natOk = applyNative(nat, cs, () => policy, natLog);
        const log: ConflictInfo[] = [];
        let threw = false;
        try {
          const r = applyChangeset(db, cs, {
            onConflict: (i) => {
              log.push(i);
              return policy;
            },
          });
          expect(r.updated + r.deleted + r.omitted).toBe(2500);
        } catch (e) {
          expect(e).toBeInstanceOf(ChangesetConflictError);
          threw = true;
        }
        expect(threw).toBe(!natOk);
        expect(log.map((i) => i.kind)).toEqual(natLog);
        expect(dumpOurs(db, ['g'])).toEqual(dumpNative(nat, ['g']));
        // changeset order is the session's hash order: compare the set of conflicting keys
        const keys = log.map((i) => i.primaryKey[0] as number).sort((a, b) => a - b);
        if (policy === 'omit') expect(keys).toEqual([1777, 1800, 1901, 2450]);
        else expect(keys).toHaveLength(1);
      }
    }
  });

  it('composite keys sharing their first column: sorted runs only when every key is distinct', () => {
    // (k, x) with k shared by two rows: the sorted path compares keys exactly within each k. A
    // section that changes one key twice (two recorded changesets merged under one header) must
    // be applied in changeset order, row by row, like native.
    const schema = 'CREATE TABLE p(k INTEGER, x TEXT, v, PRIMARY KEY (k, x)) WITHOUT ROWID;';
    const src = source(schema);
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO p VALUES (?, ?, ?)');
      for (let i = 0; i < 80; i++) ins.run(i >> 1, i & 1 ? 'b' : 'a', i);
    });
    const cs1 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO p VALUES (?, ?, ?)');
      for (let i = 200; i < 260; i++) ins.run(i >> 1, i & 1 ? 'b' : 'a', i);
      d.exec(
        "UPDATE p SET v = v * 2 WHERE k < 20; DELETE FROM p WHERE k BETWEEN 30 AND 34 AND x = 'a'",
      );
    });
    const cs2 = record(src, (d) =>
      d.exec(
        "UPDATE p SET v = -v WHERE k BETWEEN 100 AND 110 AND x = 'b'; DELETE FROM p WHERE k = 120",
      ),
    );
    const d1 = decodeChangeset(cs1);
    const d2 = decodeChangeset(cs2);
    d1.tables[0]!.changes.push(...d2.tables[0]!.changes);
    const merged = encodeChangeset(d1);
    const db = ours(schema);
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec(schema);
    for (const cs of [cs0, cs1]) {
      const stats = newApplyStats();
      applyChangeset(db, cs, { stats });
      expect(applyNative(nat, cs, () => 'abort')).toBe(true);
      expect(stats.sortedChunks).toBe(1);
      expect(stats.sortedChunkFallbacks).toBe(0);
    }
    // undo cs1 on both, then apply the merged section
    for (const d of [db, nat]) d.exec('DELETE FROM p; ');
    applyChangeset(db, cs0);
    expect(applyNative(nat, cs0, () => 'abort')).toBe(true);
    const stats = newApplyStats();
    expect(applyChangeset(db, merged, { stats })).toMatchObject({ omitted: 0 });
    expect(stats.sortedChunks).toBe(0); // not sorted: one key appears twice
    expect(applyNative(nat, merged, () => 'abort')).toBe(true);
    expect(dumpOurs(db, ['p'])).toEqual(dumpNative(nat, ['p']));
  });

  it('sparse integer keys: sorted runs like native, and a key changed twice goes row by row', () => {
    const schema = 'CREATE TABLE s(id INTEGER PRIMARY KEY, v TEXT);';
    const src = source(schema);
    const key = (i: number) => i * 1_000_003 - 40_000_000;
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO s VALUES (?, ?)');
      for (let i = 0; i < 100; i++) ins.run(key(i), `v${i}`);
    });
    const cs1 = record(src, (d) => {
      d.exec("UPDATE s SET v = v || '!' WHERE id % 3 = 0; DELETE FROM s WHERE id % 7 = 1");
      const ins = d.prepare('INSERT INTO s VALUES (?, ?)');
      for (let i = 100; i < 160; i++) ins.run(key(i), `v${i}`);
    });
    const cs2 = record(src, (d) => d.exec("UPDATE s SET v = 'again' WHERE id % 3 = 0"));
    const d1 = decodeChangeset(cs1);
    d1.tables[0]!.changes.push(...decodeChangeset(cs2).tables[0]!.changes);
    const merged = encodeChangeset(d1);
    const db = ours(schema);
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec(schema);
    for (const cs of [cs0, cs1]) {
      const stats = newApplyStats();
      applyChangeset(db, cs, { stats });
      expect(applyNative(nat, cs, () => 'abort')).toBe(true);
      expect(stats.sortedChunks).toBe(1);
      expect(stats.sortedChunkFallbacks).toBe(0);
      expect(dumpOurs(db, ['s'])).toEqual(dumpNative(nat, ['s']));
    }
    for (const d of [db, nat]) d.exec('DELETE FROM s');
    applyChangeset(db, cs0);
    expect(applyNative(nat, cs0, () => 'abort')).toBe(true);
    const stats = newApplyStats();
    applyChangeset(db, merged, { stats });
    expect(stats.sortedChunks).toBe(0); // one key appears twice: not sorted
    expect(applyNative(nat, merged, () => 'abort')).toBe(true);
    expect(dumpOurs(db, ['s'])).toEqual(dumpNative(nat, ['s']));
  });

  it('NULLs in multi-row statements: stored, matched with IS, refused by NOT NULL, like native', () => {
    // multi-row statements bind NULL as NaN (which SQLite stores as NULL)
    const schema = 'CREATE TABLE z(id INTEGER PRIMARY KEY, a TEXT, b BLOB, c REAL, d);';
    const replica = 'CREATE TABLE z(id INTEGER PRIMARY KEY, a TEXT, b BLOB, c REAL, d NOT NULL);';
    const src = source(schema);
    const val = (i: number, k: number) => (i % (k + 2) === 0 ? null : i * k);
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO z VALUES (?, ?, ?, ?, ?)');
      for (let i = 1; i <= 300; i++) {
        const a = val(i, 1);
        const b = val(i, 2);
        ins.run(
          i,
          a === null ? null : `t${a}`,
          b === null ? null : Buffer.from([b & 255]),
          val(i, 3),
          val(i, 4),
        );
      }
    });
    const cs1 = record(src, (d) =>
      d.exec(
        'UPDATE z SET c = NULL, a = CASE WHEN a IS NULL THEN id END WHERE id % 4 = 1; DELETE FROM z WHERE id % 4 = 2; UPDATE z SET d = NULL WHERE id % 8 = 3',
      ),
    );
    const db = ours(replica);
    const nat = openNative(tmp.path(`nat${n++}.db`));
    nat.exec(replica);
    const kinds: ConflictKind[] = [];
    for (const cs of [cs0, cs1]) {
      const natLog: ConflictKind[] = [];
      expect(applyNative(nat, cs, () => 'omit', natLog)).toBe(true);
      kinds.push(...natLog);
      const log: ConflictInfo[] = [];
      applyChangeset(db, cs, {
        onConflict: (i) => {
          log.push(i);
          return 'omit';
        },
      });
      expect(log.map((i) => i.kind)).toEqual(natLog);
      for (const i of log) for (const v of i.newValues ?? []) expect(Number.isNaN(v)).toBe(false);
      expect(dumpOurs(db, ['z'])).toEqual(dumpNative(nat, ['z']));
    }
    expect(kinds).toContain('CONSTRAINT'); // rows with d NULL, refused by the replica
  });

  it('applies patchsets like native', () => {
    const src = source();
    const cs0 = record(src, (d) => d.exec(`INSERT INTO t VALUES (1,'a',1),(2,'b',2),(3,'c',3)`));
    const ps = recordPatchset(src, (d) =>
      d.exec(
        `UPDATE t SET v = 'B' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (9,'i',9)`,
      ),
    );
    const db = ours();
    applyChangeset(db, cs0);
    db.prepare(`UPDATE t SET w = 'drift' WHERE id = 3`).run(); // patchset DELETE ignores non-PK values
    expect(applyPatchset(db, ps)).toEqual({
      inserted: 1,
      updated: 1,
      deleted: 1,
      omitted: 0,
      replaced: 0,
    });
    expect(dumpOurs(db, ['t']).t).toEqual(['I1|T"a"|I1', 'I2|T"B"|I2', 'I9|T"i"|I9']);
    expect(() => applyChangeset(db, ps)).toThrow(ChangesetFormatError); // patchset passed as changeset
  });

  it('rejects malformed bytes with ChangesetFormatError and rolls back', () => {
    const src = source();
    const cs = record(src, (d) => d.exec(`INSERT INTO t VALUES (1,'a',1),(2,'b',2)`));
    const db = ours();
    const truncated = cs.subarray(0, cs.length - 3);
    expect(() => applyChangeset(db, truncated)).toThrow(ChangesetFormatError);
    expect(dumpOurs(db, ['t']).t).toEqual([]);
  });
});

describe('applyChangeset on mutated input (fuzz)', () => {
  it('throws only typed errors (or SQLite errors) and never leaves a transaction open', async () => {
    const fc = (await import('fast-check')).default;
    const { SqliteError } = (await import('better-sqlite3')).default;
    const schema =
      'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w BLOB, r REAL); CREATE TABLE u(a TEXT, b INTEGER, c, PRIMARY KEY (b, a)) WITHOUT ROWID;';
    const src = source(schema);
    const cs0 = record(src, (d) => {
      const ins = d.prepare('INSERT INTO t VALUES (?,?,?,?)');
      for (let i = 0; i < 60; i++) ins.run(i, `v${i}`, new Uint8Array([i, i]), i / 2);
      const insU = d.prepare('INSERT INTO u VALUES (?,?,?)');
      for (let i = 0; i < 40; i++) insU.run(`a${i % 3}`, i, i % 2 ? 'x' : 2n ** 60n);
    });
    const cs1 = record(src, (d) =>
      d.exec(
        `UPDATE t SET v = v || '!' WHERE id % 2 = 0; DELETE FROM t WHERE id % 3 = 0; DELETE FROM u WHERE b % 4 = 0; UPDATE u SET c = NULL WHERE b % 5 = 0`,
      ),
    );
    const db = ours(schema);
    applyChangeset(db, cs0);
    const seeds = [cs0, cs1];
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.boolean(),
        (which, edits, caller) => {
          const bytes = Uint8Array.from(seeds[which]!);
          for (const [pos, b] of edits) bytes[pos % bytes.length] = b;
          if (caller) db.exec('SAVEPOINT outer');
          try {
            applyChangeset(db, bytes, {
              onConflict: () => 'omit',
              transaction: caller ? 'caller' : 'own',
            });
          } catch (e) {
            const ok =
              e instanceof ChangesetFormatError ||
              e instanceof SchemaMismatchError ||
              e instanceof ChangesetConflictError ||
              e instanceof SqliteError;
            if (!ok) throw e;
          } finally {
            if (caller) db.exec('ROLLBACK TO outer; RELEASE outer');
          }
          expect(db.inTransaction).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('non-constraint SQLite errors inside multi-row statements', () => {
  it('fail at the same change as native (row-by-row replay of the failed batch)', async () => {
    const { SqliteError } = (await import('better-sqlite3')).default;
    const srcSchema = 'CREATE TABLE m(id INT PRIMARY KEY, v)'; // not a rowid alias: accepts text keys
    const replicaSchema = 'CREATE TABLE m(id INTEGER PRIMARY KEY, v)'; // rowid alias: text key → SQLITE_MISMATCH
    const outcomes = new Set<string>();
    for (let variant = 0; variant < 6; variant++) {
      const src = source(srcSchema);
      const cs = record(src, (d) => {
        const ins = d.prepare('INSERT INTO m VALUES (?, ?)');
        for (let i = 0; i < 60; i++) ins.run(i, i);
        ins.run(`key${variant}`, 'text key');
      });
      const nat = openNative(tmp.path(`mm${n++}.db`));
      nat.exec(replicaSchema);
      nat.exec(`INSERT INTO m VALUES (${variant * 11}, 'existing')`);
      const natLog: string[] = [];
      let natErr = '';
      try {
        applyNative(nat, cs, () => 'abort', natLog as never);
      } catch (e) {
        natErr = String(e);
      }
      const db = ours(replicaSchema);
      db.exec(`INSERT INTO m VALUES (${variant * 11}, 'existing')`);
      const ourLog: string[] = [];
      let ourErr: unknown;
      try {
        applyChangeset(db, cs, {
          onConflict: (i) => {
            ourLog.push(i.kind);
            return 'abort';
          },
        });
      } catch (e) {
        ourErr = e;
      }
      expect(ourLog).toEqual(natLog);
      outcomes.add(natLog.length > 0 ? 'conflict' : 'mismatch');
      if (natLog.length > 0) expect(ourErr).toBeInstanceOf(ChangesetConflictError);
      else {
        expect(natErr).toMatch(/mismatch/);
        expect(ourErr).toBeInstanceOf(SqliteError);
      }
      expect(dumpOurs(db, ['m']).m).toEqual([`I${variant * 11}|T"existing"`]);
    }
    expect([...outcomes].sort()).toEqual(['conflict', 'mismatch']);
  });
});

describe('sqlite_stat1 (ANALYZE results recorded by sessions)', () => {
  it('is applied like sqlite3changeset_apply: skipped when absent, keyed by (tbl, idx IS)', () => {
    const schema =
      'CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE INDEX tv ON t(v); CREATE TABLE plain(id INTEGER PRIMARY KEY);';
    const src = source(schema);
    src.exec('INSERT INTO t VALUES (1, 1), (2, 2); INSERT INTO plain VALUES (1)');
    const cs1 = record(src, (d) => d.exec('ANALYZE')); // inserts, idx NULL for "plain"
    const cs2 = record(src, (d) =>
      d.exec('INSERT INTO t VALUES (3, 3), (4, 3); INSERT INTO plain VALUES (2); ANALYZE'),
    );
    const policies: Record<string, (k: ConflictKind) => ConflictAction> = {
      default: (k) => (k === 'CONFLICT' ? 'omit' : 'abort'),
      omit: () => 'omit',
      replace: (k) => (k === 'DATA' || k === 'CONFLICT' ? 'replace' : 'omit'),
    };
    const kindsSeen = new Set<string>();
    for (const withStat of [false, true]) {
      for (const [name, policy] of Object.entries(policies)) {
        const setup = `${schema} INSERT INTO t VALUES (1, 1), (2, 2); INSERT INTO plain VALUES (1); ${withStat ? "ANALYZE; UPDATE sqlite_stat1 SET stat = stat || ' 9' WHERE idx IS NULL;" : ''}`;
        const nat = openNative(tmp.path(`st${n++}.db`));
        nat.exec(setup);
        const db = ours('');
        db.exec(setup);
        for (const cs of [cs1, cs2, cs1]) {
          const natLog: string[] = [];
          let natOk = true;
          try {
            natOk = applyNative(nat, cs, policy, natLog as never);
          } catch {
            natOk = false;
          }
          const ourLog: string[] = [];
          let ourOk = true;
          try {
            applyChangeset(db, cs, {
              onConflict: (i) => {
                ourLog.push(i.kind);
                return policy(i.kind);
              },
            });
          } catch (e) {
            if (!(e instanceof ChangesetConflictError)) throw e;
            ourOk = false;
          }
          expect({ withStat, name, ok: ourOk, log: ourLog }).toEqual({
            withStat,
            name,
            ok: natOk,
            log: natLog,
          });
          for (const k of natLog) kindsSeen.add(k);
          const tables = withStat ? ['t', 'plain', 'sqlite_stat1'] : ['t', 'plain'];
          expect(dumpOurs(db, tables)).toEqual(dumpNative(nat, tables));
        }
        if (!withStat)
          expect(
            db
              .prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'`)
              .pluck()
              .get(),
          ).toBe(0);
      }
    }
    expect([...kindsSeen].sort()).toEqual(['CONFLICT', 'DATA']);
  });
});
