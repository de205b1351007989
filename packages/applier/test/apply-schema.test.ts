// applyChangeset against the replica's schema: missing tables, column counts, primary keys,
// checkSchema and filter, schema changes between applies, and sqlite_stat1.
import { describe, expect, it } from 'vitest';
import {
  applyChangeset,
  ChangesetConflictError,
  type ConflictAction,
  type ConflictKind,
  SchemaMismatchError,
} from '../src/index';
import {
  APPLY_SCHEMA,
  applyNative,
  dumpNative,
  dumpOurs,
  openNative,
  openOurs,
  record,
  testDatabases,
} from './helpers';

const { file, source, ours } = testDatabases('applier-apply-schema-');

describe('applyChangeset', () => {
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
    const nat = openNative(file('nat'));
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
    const path = file('ours');
    const db = openOurs(path);
    db.exec(APPLY_SCHEMA);
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
        const nat = openNative(file('st'));
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
