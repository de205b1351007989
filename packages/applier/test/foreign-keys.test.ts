import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { tempDir } from '@synddb/test-support';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  type ApplyStats,
  applyChangeset,
  type ConflictAction,
  type ConflictKind,
} from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  newApplyStats,
  openNative,
  openOurs,
  record,
} from './helpers';

const dir = tempDir('applier-fk-', { scope: 'file' });
let n = 0;

const SCHEMA = `
  CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT);
  CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE, v TEXT);
  CREATE TABLE g(id INTEGER PRIMARY KEY, cid INTEGER REFERENCES c(id), w TEXT);
  CREATE TABLE plain(k TEXT PRIMARY KEY, x);`;
// the same with a DEFERRABLE key (foreign keys are then always deferred by pragma)
const DEFERRABLE = SCHEMA.replace(
  'ON DELETE CASCADE',
  'ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
);
const BASE = `
  INSERT INTO p VALUES (1,'p1'),(2,'p2'),(3,'p3'),(4,'p4'),(5,'p5');
  INSERT INTO c VALUES (1,1,'c1'),(2,2,'c2'),(3,3,'c3'),(4,4,'c4'),(5,5,'c5');
  INSERT INTO g VALUES (1,1,'g1'),(2,2,'g2'),(3,3,'g3');
  INSERT INTO plain VALUES ('a',1),('b',2);`;
const DRIFT = `UPDATE c SET v = 'drift' WHERE id = 2; INSERT INTO plain VALUES ('z', 0);`;
const TABLES = ['p', 'c', 'g', 'plain'];

/** Changes recorded with foreign_keys off on a copy of BASE (so any order can be recorded). */
const SCENARIOS: Record<string, string> = {
  clean: `INSERT INTO p VALUES (6,'p6'); INSERT INTO c VALUES (6,6,'c6'); UPDATE c SET v = 'x' WHERE id = 3`,
  childFirst: `INSERT INTO c VALUES (10,10,'c10'); INSERT INTO p VALUES (10,'p10')`,
  orphan: `INSERT INTO c VALUES (11,99,'c11'); INSERT INTO plain VALUES ('c', 3)`,
  cascadeThenNotFound: `DELETE FROM p WHERE id = 4; DELETE FROM c WHERE id = 4`,
  dataConflict: `UPDATE c SET v = 'new' WHERE id = 2; INSERT INTO p VALUES (7,'p7')`,
  conflictBeforeFkTable: `INSERT INTO plain VALUES ('z', 1); INSERT INTO c VALUES (12,12,'c12'); INSERT INTO p VALUES (12,'p12')`,
  danglingGrandchild: `DELETE FROM c WHERE id = 1`,
};
const POLICIES: Record<string, (kind: ConflictKind) => ConflictAction> = {
  default: (kind) => (kind === 'CONFLICT' ? 'omit' : 'abort'),
  omit: () => 'omit',
  replace: (kind) => (kind === 'DATA' || kind === 'CONFLICT' ? 'replace' : 'omit'),
};

function recordScenario(schema: string, sql: string): Uint8Array {
  const src = openNative(join(dir, `src${n++}.db`));
  src.exec('PRAGMA foreign_keys = OFF');
  src.exec(schema + BASE);
  const cs = record(src, (d) => d.exec(sql));
  src.close();
  return cs;
}

function runNative(schema: string, cs: Uint8Array, policy: (k: ConflictKind) => ConflictAction) {
  const db: DatabaseSync = openNative(join(dir, `nat${n++}.db`));
  db.exec(schema + BASE + DRIFT);
  const log: ConflictKind[] = [];
  let ok: boolean;
  try {
    ok = applyNative(db, cs, policy, log);
  } catch {
    ok = false; // 'constraint failed' after an aborted FOREIGN_KEY conflict
  }
  const rows = dumpNative(db, TABLES);
  db.close();
  return { ok, log, rows };
}

function runOurs(
  schema: string,
  cs: Uint8Array,
  policy: (k: ConflictKind) => ConflictAction,
  mode: 'own' | 'caller',
  stats: ApplyStats,
) {
  const db: Database.Database = openOurs(join(dir, `ours${n++}.db`));
  db.exec(schema + BASE + DRIFT);
  const log: ConflictKind[] = [];
  let ok = true;
  if (mode === 'caller') db.exec('BEGIN');
  try {
    applyChangeset(db, cs, {
      transaction: mode,
      stats,
      onConflict: (info) => {
        log.push(info.kind);
        return policy(info.kind);
      },
    });
  } catch {
    ok = false;
  }
  // whatever happened, foreign keys are immediate again for the caller's own statements
  expect(db.pragma('defer_foreign_keys', { simple: true })).toBe(0);
  if (mode === 'caller') {
    expect(db.inTransaction).toBe(true);
    expect(() => db.prepare(`INSERT INTO g VALUES (1000, 12345, 'mine')`).run()).toThrow(
      /FOREIGN KEY constraint failed/,
    );
    db.exec('COMMIT'); // an omitted FOREIGN_KEY conflict leaves nothing that fails the COMMIT
  }
  const rows = dumpOurs(db, TABLES);
  db.close();
  return { ok, log, rows };
}

describe('foreign keys', () => {
  for (const [schemaName, schema] of [
    ['immediate keys', SCHEMA],
    ['DEFERRABLE keys', DEFERRABLE],
  ] as const) {
    it(`match native for every scenario, policy and transaction mode (${schemaName})`, () => {
      const stats = newApplyStats();
      const outcomes = new Set<string>();
      for (const [name, sql] of Object.entries(SCENARIOS)) {
        const cs = recordScenario(schema, sql);
        for (const [policyName, policy] of Object.entries(POLICIES)) {
          const nat = runNative(schema, cs, policy);
          for (const mode of ['own', 'caller'] as const) {
            const ours = runOurs(schema, cs, policy, mode, stats);
            const label = `${name} / ${policyName} / ${mode}`;
            expect({ label, ...ours }).toEqual({ label, ...nat });
            outcomes.add(`${nat.ok}:${nat.log.join(',')}`);
          }
        }
      }
      // the scenarios reach success, aborts and every relevant conflict kind
      const all = [...outcomes].join(' ');
      for (const k of ['FOREIGN_KEY', 'NOTFOUND', 'DATA', 'CONFLICT']) expect(all).toContain(k);
      expect(all).toContain('true:');
      expect(all).toContain('false:');
      if (schema === SCHEMA) expect(stats.foreignKeyRestarts).toBeGreaterThan(0);
      else expect(stats.foreignKeyRestarts).toBe(0);
    });
  }

  it('does not report violations that predate the apply, like native (when no change needs deferral)', () => {
    const cs = recordScenario(SCHEMA, SCENARIOS.clean!);
    const orphan = `PRAGMA foreign_keys = OFF; INSERT INTO c VALUES (50, 500, 'old orphan'); PRAGMA foreign_keys = ON;`;
    const nat = openNative(join(dir, `nat${n++}.db`));
    nat.exec(SCHEMA + BASE + orphan);
    const natLog: ConflictKind[] = [];
    expect(applyNative(nat, cs, () => 'abort', natLog)).toBe(true);
    expect(natLog).toEqual([]);
    for (const mode of ['own', 'caller'] as const) {
      const db = openOurs(join(dir, `ours${n++}.db`));
      db.exec(SCHEMA + BASE + orphan);
      if (mode === 'caller') db.exec('BEGIN');
      expect(applyChangeset(db, cs, { transaction: mode })).toMatchObject({
        inserted: 2,
        updated: 1,
      });
      if (mode === 'caller') db.exec('COMMIT');
      expect(dumpOurs(db, TABLES)).toEqual(dumpNative(nat, TABLES));
      db.close();
    }
    nat.close();
  });

  it("'caller' mode writes no pragma unless a change needs deferred foreign keys", () => {
    const clean = recordScenario(SCHEMA, SCENARIOS.clean!);
    const childFirst = recordScenario(SCHEMA, SCENARIOS.childFirst!);
    const orphan = recordScenario(SCHEMA, SCENARIOS.orphan!);
    const db = openOurs(join(dir, `ours${n++}.db`));
    db.exec(SCHEMA + BASE);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const mine = db.prepare('UPDATE plain SET x = x + 1 WHERE k = ?');
    db.exec('BEGIN');
    const stats = newApplyStats();
    applyChangeset(db, clean, { transaction: 'caller', stats });
    mine.run('a');
    expect(stats.deferPragmaWrites).toBe(0);
    // a child inserted before its parent needs deferred keys: switched on and back off
    applyChangeset(db, childFirst, { transaction: 'caller', stats });
    expect(stats.deferPragmaWrites).toBe(2);
    expect(db.pragma('defer_foreign_keys', { simple: true })).toBe(0);
    // a violation is still detected (foreign_key_check) and rolls back only the apply
    expect(() => applyChangeset(db, orphan, { transaction: 'caller' })).toThrow(/FOREIGN_KEY/);
    expect(db.inTransaction).toBe(true);
    mine.run('a');
    db.exec('COMMIT');
    expect(dumpOurs(db, ['plain', 'p']).plain).toEqual(['T"a"|I3', 'T"b"|I2']);
    expect(dumpOurs(db, ['p']).p).toContain('I10|T"p10"');
    expect((dumpOurs(db, ['c']).c ?? []).some((r) => r.startsWith('I11|'))).toBe(false);
    // a caller that deferred its keys itself keeps them deferred, and nothing is written
    db.exec('BEGIN');
    db.pragma('defer_foreign_keys = 1');
    const deferredByCaller = newApplyStats();
    expect(() =>
      applyChangeset(db, orphan, { transaction: 'caller', stats: deferredByCaller }),
    ).toThrow(/FOREIGN_KEY/);
    expect(deferredByCaller.deferPragmaWrites).toBe(0);
    expect(db.pragma('defer_foreign_keys', { simple: true })).toBe(1);
    db.exec('ROLLBACK');
    db.close();
  });
});
