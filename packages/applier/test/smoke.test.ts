import { join } from 'node:path';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { applyChangeset, decodeChangeset, encodeChangeset } from '../src/index';
import { applyNative, dumpNative, dumpOurs, openNative, openOurs, record } from './helpers';

const dir = tempDir('applier-', { scope: 'file' });

describe('smoke', () => {
  it('applies inserts/updates/deletes like native', () => {
    const schema =
      'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB, d); CREATE TABLE u(x TEXT, k INTEGER, v, PRIMARY KEY(k, x)) WITHOUT ROWID;';
    const src = openNative(join(dir, 's.db'));
    src.exec(schema);
    const cs0 = record(src, (db) => {
      const ins = db.prepare('INSERT INTO t VALUES (?,?,?,?,?)');
      for (let i = 1; i <= 300; i++)
        ins.run(i, `s${i}`, i / 3, Buffer.from([i & 255]), i % 3 === 0 ? 2n ** 60n + BigInt(i) : i);
      db.prepare('INSERT INTO u VALUES (?,?,?)').run('a', 1, -0.0);
      db.prepare('INSERT INTO u VALUES (?,?,?)').run('b', 1, 'x');
    });
    const cs1 = record(src, (db) => {
      db.exec('UPDATE t SET b = b + 1 WHERE id % 2 = 0');
      db.exec('DELETE FROM t WHERE id % 5 = 0');
      db.exec("UPDATE u SET v = 7 WHERE x = 'b'");
    });
    for (const cs of [cs0, cs1]) expect(encodeChangeset(decodeChangeset(cs))).toEqual(cs);
    const ours = openOurs(join(dir, 'o.db'));
    ours.exec(schema);
    const nat = openNative(join(dir, 'n.db'));
    nat.exec(schema);
    for (const cs of [cs0, cs1]) {
      applyChangeset(ours, cs);
      expect(applyNative(nat, cs, () => 'abort')).toBe(true);
    }
    expect(dumpOurs(ours, ['t', 'u'])).toEqual(dumpNative(nat, ['t', 'u']));
    expect(dumpNative(src, ['t', 'u'])).toEqual(dumpNative(nat, ['t', 'u']));
  });
});
