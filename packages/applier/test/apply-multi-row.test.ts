// applyChangeset's multi-row paths (sorted chunks, run batches, savepoint groups) compared with
// node:sqlite's native apply: wide tables, TEXT decoding, long runs, key orders, NULLs, errors.
import { describe, expect, it } from 'vitest';
import {
  applyChangeset,
  ChangesetConflictError,
  type ConflictInfo,
  type ConflictKind,
  decodeChangeset,
  encodeChangeset,
} from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  newApplyStats,
  openNative,
  record,
  testDatabases,
} from './helpers';

const { file, source, ours } = testDatabases('applier-apply-multi-row-');

describe('applyChangeset', () => {
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
      const nat = openNative(file('nat'));
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
    const nat = openNative(file('nat'));
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
      const nat = openNative(file('nat'));
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
    const nat = openNative(file('nat'));
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
    const nat = openNative(file('nat'));
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
    const nat = openNative(file('nat'));
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
      const nat = openNative(file('mm'));
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
