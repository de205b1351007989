// The workspace runs on better-sqlite3 12.x (see the package README); @synddb/applier supports
// 13.x (Node-API) too. This runs every execution path once more on 13.x against node:sqlite.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Database13 from 'better-sqlite3-13';
import { afterAll, describe, expect, it } from 'vitest';
import { pathStats } from '../src/apply';
import { applyChangeset, type ConflictKind, restoreSnapshot } from '../src/index';
import {
  applyNative,
  dumpNative,
  dumpOurs,
  openNative,
  openOurs,
  record,
  tempDir,
} from './helpers';

const tmp = tempDir('applier-driver13-');
afterAll(() => tmp.cleanup());

const SCHEMA = `
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, n INTEGER, big);
CREATE TABLE pairs(a TEXT, b INTEGER, v REAL, w TEXT, PRIMARY KEY (b, a)) WITHOUT ROWID;
CREATE TABLE tags(k TEXT COLLATE NOCASE PRIMARY KEY, v);`;
const TABLES = ['items', 'pairs', 'tags'];

describe('better-sqlite3 13.x', () => {
  it('is really 13.x, and the workspace default is 12.x', () => {
    const require = createRequire(import.meta.url);
    expect(require('better-sqlite3-13/package.json').version).toMatch(/^13\./);
    expect(require('better-sqlite3/package.json').version).toMatch(/^12\./);
  });

  it('applies bulk, one-row and conflicting changesets, and snapshots, exactly like native', async () => {
    const src = openNative(tmp.path('src.db'));
    src.exec(SCHEMA);
    const sets: Uint8Array[] = [];
    sets.push(
      record(src, (d) => {
        const ins = d.prepare('INSERT INTO items VALUES (?,?,?,?,?,?)');
        for (let i = 1; i <= 3000; i++)
          ins.run(
            i,
            `name-${i}`,
            i / 4,
            Buffer.from([i & 255, 1]),
            i * 3,
            i % 5 ? 2n ** 60n + BigInt(i) : null,
          );
        const p = d.prepare('INSERT INTO pairs VALUES (?,?,?,?)');
        for (let i = 1; i <= 2000; i++) p.run(`k${i % 7}`, i, i / 3, `w${i}é`);
        const t = d.prepare('INSERT INTO tags VALUES (?,?)');
        for (let i = 1; i <= 500; i++) t.run(`Tag${i}`, i % 3 ? `v${i}` : -0.0);
      }),
    );
    sets.push(
      record(src, (d) =>
        d.exec(`INSERT INTO items SELECT id + 3000, name || '+', score, data, n, big FROM items WHERE id <= 1000;
                UPDATE items SET name = name || '!' WHERE id % 3 = 0;
                DELETE FROM items WHERE id % 5 = 1 AND id <= 2000;
                UPDATE pairs SET v = v * 2 WHERE b % 4 = 0;
                DELETE FROM pairs WHERE b % 10 = 3;
                UPDATE tags SET v = 'x' WHERE rowid % 2 = 0;
                DELETE FROM tags WHERE rowid % 7 = 0;`),
      ),
    );
    sets.push(record(src, (d) => d.exec('UPDATE items SET score = score + 1')));
    sets.push(record(src, (d) => d.exec('DELETE FROM items WHERE id > 2500')));
    for (let i = 0; i < 200; i++) {
      sets.push(
        record(src, (d) =>
          i % 2
            ? d.prepare('UPDATE items SET n = ? WHERE id = ?').run(i, 2 + i * 3)
            : d.prepare('INSERT INTO items (id, name) VALUES (?, ?)').run(100_000 + i, `one-${i}`),
        ),
      );
    }
    const ours = openOurs(tmp.path('ours.db'), Database13);
    const nat = openNative(tmp.path('nat.db'));
    ours.exec(SCHEMA);
    nat.exec(SCHEMA);
    const before = { ...pathStats };
    for (const cs of sets) {
      expect(applyNative(nat, cs, () => 'abort')).toBe(true);
      applyChangeset(ours, cs);
    }
    expect(dumpOurs(ours, TABLES)).toEqual(dumpNative(nat, TABLES));
    expect(pathStats.partitionChunks).toBeGreaterThan(before.partitionChunks);
    expect(pathStats.runBatches).toBeGreaterThan(before.runBatches);

    // drift on both replicas, then a changeset that meets it: same conflicts, same rows
    const drift = `UPDATE items SET n = 0 WHERE id IN (9, 12, 2001);
                   DELETE FROM pairs WHERE b = 8; UPDATE tags SET v = 'drift' WHERE k = 'TAG5';`;
    ours.exec(drift);
    nat.exec(drift);
    const conflicting = record(src, (d) =>
      d.exec(`UPDATE items SET n = -1 WHERE id <= 2100; DELETE FROM pairs WHERE b <= 100;
              UPDATE tags SET v = 'y';`),
    );
    const natLog: ConflictKind[] = [];
    expect(applyNative(nat, conflicting, () => 'omit', natLog)).toBe(true);
    const log: ConflictKind[] = [];
    applyChangeset(ours, conflicting, {
      onConflict: (i) => {
        log.push(i.kind);
        return 'omit';
      },
    });
    expect(log).toEqual(natLog);
    expect(log.length).toBeGreaterThanOrEqual(4);
    expect(dumpOurs(ours, TABLES)).toEqual(dumpNative(nat, TABLES));

    // snapshot: the image of the native replica replaces ours
    nat.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const bytes = readFileSync(tmp.path('nat.db'));
    ours.exec(`DELETE FROM items; DELETE FROM pairs;`);
    const res = await restoreSnapshot(ours, bytes);
    expect(res.tables).toBe(3);
    expect(dumpOurs(ours, TABLES)).toEqual(dumpNative(nat, TABLES));
    ours.close();
    nat.close();
    src.close();
  });
});
