// applyChangeset: results, conflicts and their handler, transactions, foreign keys, patchsets,
// malformed input. Schema checks: apply-schema.test.ts; multi-row statements: apply-multi-row.test.ts.
import { describe, expect, it } from 'vitest';
import {
  applyChangeset,
  applyPatchset,
  ChangesetConflictError,
  ChangesetFormatError,
  type ConflictInfo,
  SchemaMismatchError,
} from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  openNative,
  record,
  recordPatchset,
  testDatabases,
} from './helpers';

const { file, source, ours } = testDatabases('applier-apply-');

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
    const nat = openNative(file('nat'));
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
