import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { digestDatabase } from './db-digest';

function makeDb(path: string, rows: [number, unknown][]): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v); CREATE TABLE u (a TEXT, b BLOB)');
  const insert = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
  for (const [id, v] of rows) insert.run(id, v as never);
  return db;
}

describe('digestDatabase', () => {
  it('is independent of insertion order and stable across connections', () => {
    const dir = tempDir('synddb-devnet-digest-');
    const a = makeDb(join(dir, 'a.db'), [
      [1, 'x'],
      [2, 3n],
    ]);
    const b = makeDb(join(dir, 'b.db'), [
      [2, 3n],
      [1, 'x'],
    ]);
    expect(digestDatabase(a)).toEqual(digestDatabase(b));
    a.close();
    expect(digestDatabase(join(dir, 'a.db')).digest).toBe(digestDatabase(b).digest);
    b.close();
  });

  it('distinguishes storage classes and 64-bit integers exactly', () => {
    const dir = tempDir('synddb-devnet-digest-');
    const values: unknown[] = [
      1n,
      1.0 + Number.EPSILON,
      '1',
      new Uint8Array([0x31]),
      null,
      2n ** 62n,
      2n ** 62n + 1n,
    ];
    const digests = values.map((v, i) => {
      const db = makeDb(join(dir, `${i}.db`), [[1, v]]);
      const d = digestDatabase(db).digest;
      db.close();
      return d;
    });
    expect(new Set(digests).size).toBe(values.length);
  });

  it('names the table that differs and skips reserved _synddb_ tables by default', () => {
    const dir = tempDir('synddb-devnet-digest-');
    const a = makeDb(join(dir, 'a.db'), [[1, 'x']]);
    const b = makeDb(join(dir, 'b.db'), [[1, 'x']]);
    b.exec(
      'CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last INTEGER); INSERT INTO _synddb_cursor VALUES (1, 9)',
    );
    expect(digestDatabase(a).digest).toBe(digestDatabase(b).digest);
    expect(digestDatabase(b, { exclude: () => false }).tables.map((t) => t.name)).toContain(
      '_synddb_cursor',
    );

    b.exec("INSERT INTO u VALUES ('only in b', NULL)");
    const da = digestDatabase(a);
    const db = digestDatabase(b);
    expect(da.digest).not.toBe(db.digest);
    const differing = da.tables
      .filter((t, i) => t.digest !== db.tables[i]?.digest)
      .map((t) => t.name);
    expect(differing).toEqual(['u']);
    expect(db.tables.find((t) => t.name === 'u')).toMatchObject({
      rowCount: 1,
      columns: ['a', 'b'],
    });
  });
});
