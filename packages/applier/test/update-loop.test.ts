import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { type ApplyResult, applyChangeset, applyPatchset, type ConflictKind } from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  openNative,
  openOurs,
  record,
  recordPatchset,
} from './helpers';

const dir = tempDir('applier-update-loop-', { scope: 'file' });
let n = 0;

/** node:sqlite's SQLite moves UNIQUE values out of the way (its update loop) from 3.54 on. */
const probe = openNative(join(dir, 'version.db'));
const [major, minor] = (probe.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v
  .split('.')
  .map(Number) as [number, number];
probe.close();
const nativeHasUpdateLoop = major > 3 || (major === 3 && minor >= 54);

const SCHEMA = `
CREATE TABLE t(p INTEGER PRIMARY KEY, q TEXT UNIQUE, r TEXT NOT NULL DEFAULT '');
CREATE TABLE c(p INTEGER PRIMARY KEY, q TEXT UNIQUE CHECK (length(q) = 1), n INTEGER);
CREATE TABLE k(a TEXT, b INTEGER, u BLOB, v INTEGER, PRIMARY KEY (a, b), UNIQUE (u, v)) WITHOUT ROWID;
CREATE TABLE e(p INTEGER PRIMARY KEY, x INTEGER);
CREATE UNIQUE INDEX e_abs ON e(abs(x));
`;

/**
 * Applies a changeset made on a source (rows `before`, then `change`) to our replica and to a
 * node:sqlite one holding `before`, with `policy`; our outcome, rows and counts.
 */
function applyBoth(
  before: string,
  change: string,
  policy: (kind: ConflictKind) => 'omit' | 'abort',
  patchset = false,
) {
  const id = n++;
  const src = openNative(join(dir, `src${id}.db`));
  const nat = openNative(join(dir, `nat${id}.db`));
  const ours = openOurs(join(dir, `ours${id}.db`));
  for (const db of [src, nat]) db.exec(SCHEMA);
  ours.exec(SCHEMA);
  for (const db of [src, nat]) db.exec(before);
  ours.exec(before);
  const cs = (patchset ? recordPatchset : record)(src, (db: DatabaseSync) => db.exec(change));
  const nativeLog: ConflictKind[] = [];
  let nativeOk: boolean;
  try {
    nativeOk = applyNative(nat, cs, policy, nativeLog);
  } catch {
    nativeOk = false;
  }
  const ourLog: ConflictKind[] = [];
  let ourOk = true;
  let result: ApplyResult | undefined;
  try {
    result = (patchset ? applyPatchset : applyChangeset)(ours, cs, {
      onConflict: (info) => {
        ourLog.push(info.kind);
        return policy(info.kind);
      },
    });
  } catch {
    ourOk = false;
  }
  const tables = ['t', 'c', 'k', 'e'];
  const out = {
    ours: { ok: ourOk, log: ourLog, rows: dumpOurs(ours, tables) },
    native: { ok: nativeOk, log: nativeLog, rows: dumpNative(nat, tables) },
    source: dumpNative(src, tables),
    result,
  };
  for (const db of [src, nat]) db.close();
  ours.close();
  return out;
}

const abortOnConstraint = (k: ConflictKind) => (k === 'CONFLICT' ? 'omit' : 'abort');

describe('UPDATEs that swap UNIQUE values (SQLite 3.54 update loop)', () => {
  const cases: [string, string, string][] = [
    [
      'a swap of two rows',
      "INSERT INTO t VALUES (3, 'u', ''), (6, 'v', '')",
      "BEGIN; UPDATE t SET q = 'tmp' WHERE p = 3; UPDATE t SET q = 'u' WHERE p = 6; UPDATE t SET q = 'v' WHERE p = 3; COMMIT",
    ],
    [
      'a rotation of three rows, with other columns changed too',
      "INSERT INTO t VALUES (1, 'a', 'x'), (2, 'b', 'y'), (3, 'c', 'z')",
      "BEGIN; UPDATE t SET q = NULL WHERE p = 1; UPDATE t SET q = 'a', r = 'yy' WHERE p = 2; UPDATE t SET q = 'b' WHERE p = 3; UPDATE t SET q = 'c', r = 'xx' WHERE p = 1; COMMIT",
    ],
    [
      'a swap on a two-column UNIQUE of a WITHOUT ROWID table',
      "INSERT INTO k VALUES ('x', 1, x'01', 5), ('y', 2, x'02', 5)",
      "BEGIN; UPDATE k SET u = x'ff' WHERE a = 'x'; UPDATE k SET u = x'01' WHERE a = 'y'; UPDATE k SET u = x'02' WHERE a = 'x'; COMMIT",
    ],
    [
      'a swap on an expression index (every column counts as UNIQUE)',
      'INSERT INTO e VALUES (1, 5), (2, 7)',
      'BEGIN; UPDATE e SET x = 100 WHERE p = 1; UPDATE e SET x = -5 WHERE p = 2; UPDATE e SET x = 7 WHERE p = 1; COMMIT',
    ],
  ];
  for (const patchset of [false, true]) {
    for (const [name, before, change] of cases) {
      it(`applies ${name}${patchset ? ' (patchset)' : ''}`, () => {
        const r = applyBoth(before, change, abortOnConstraint, patchset);
        expect(r.ours.ok).toBe(true);
        expect(r.ours.log).toEqual([]);
        expect(r.ours.rows).toEqual(r.source);
        expect(r.result!.updated).toBeGreaterThanOrEqual(2);
        if (nativeHasUpdateLoop) expect(r.ours).toEqual(r.native);
      });
    }
  }

  it('reports a swap that a CHECK keeps out of the way, as SQLite does', () => {
    // the "random" TEXT is longer than the CHECK allows: no UPDATE can move out of the way
    const before = "INSERT INTO c VALUES (1, 'a', 0), (2, 'b', 0)";
    const change =
      "BEGIN; UPDATE c SET q = NULL WHERE p = 1; UPDATE c SET q = 'a', n = 1 WHERE p = 2; UPDATE c SET q = 'b' WHERE p = 1; COMMIT";
    const aborted = applyBoth(before, change, abortOnConstraint);
    expect(aborted.ours.ok).toBe(false);
    expect(aborted.ours.log).toEqual(['CONSTRAINT']);
    expect(aborted.ours.rows.c).toEqual(['I1|T"a"|I0', 'I2|T"b"|I0']);
    const omitted = applyBoth(before, change, () => 'omit');
    expect(omitted.ours.ok).toBe(true);
    expect(omitted.ours.log).toEqual(['CONSTRAINT', 'CONSTRAINT']);
    expect(omitted.result).toMatchObject({ updated: 0, omitted: 2 });
    if (nativeHasUpdateLoop) {
      expect(aborted.ours).toEqual(aborted.native);
      expect(omitted.ours).toEqual(omitted.native);
    }
  });
});
