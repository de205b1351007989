import { DatabaseSync } from 'node:sqlite';
import { ChangesetFormatError } from '@synddb/applier';
import { describe, expect, it } from 'vitest';
import { hex0x, jsonSqlValue } from './json-value';
import { rowChanges, SchemaCache } from './row-changes';

function capture(db: DatabaseSync, sql: string): Uint8Array {
  const session = db.createSession();
  db.exec(sql);
  const changeset = session.changeset();
  session.close();
  return changeset;
}

describe('jsonSqlValue', () => {
  it('keeps JSON exact', () => {
    expect(jsonSqlValue(null)).toBe(null);
    expect(jsonSqlValue(42)).toBe(42);
    expect(jsonSqlValue(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(jsonSqlValue(-(2n ** 53n))).toBe('-9007199254740992');
    expect(jsonSqlValue(12n)).toBe(12);
    expect(jsonSqlValue(1.5)).toBe(1.5);
    expect(jsonSqlValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(jsonSqlValue('text')).toBe('text');
    expect(jsonSqlValue(new Uint8Array([0, 1, 254, 255]))).toBe('0x0001feff');
    expect(hex0x(new Uint8Array())).toBe('0x');
  });
});

describe('rowChanges', () => {
  it('names columns from the replica schema and orders composite keys', () => {
    const db = new DatabaseSync(':memory:');
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, big INTEGER, data BLOB, r REAL);
      CREATE TABLE labels (label TEXT, value TEXT, account INTEGER, PRIMARY KEY (account, label)) WITHOUT ROWID;
      INSERT INTO t VALUES (1, 'a', 1, x'00', 0.5);`);
    const changeset = capture(
      db,
      `INSERT INTO t VALUES (2, 'b', 9223372036854775807, x'beef', NULL);
       UPDATE t SET name = 'z' WHERE id = 1;
       DELETE FROM t WHERE id = 1;
       INSERT INTO labels VALUES ('tier', 'gold', 7);`,
    );
    const lookups: string[] = [];
    const schema = new SchemaCache((table) => {
      lookups.push(table);
      const rows = db.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').all(table);
      return rows.map((r) => String(r.name));
    });
    const changes = [...rowChanges(changeset, schema)];
    // the session sorts by table; changes within a table by key
    const t = changes.filter((c) => c.table === 't');
    expect(t).toContainEqual({
      table: 't',
      op: 'INSERT',
      pk: [2],
      old: undefined,
      new: { id: 2, name: 'b', big: '9223372036854775807', data: '0xbeef', r: null },
    });
    // UPDATE then DELETE of the same row collapse into one DELETE of the original row
    expect(t).toContainEqual({
      table: 't',
      op: 'DELETE',
      pk: [1],
      old: { id: 1, name: 'a', big: 1, data: '0x00', r: 0.5 },
      new: undefined,
    });
    expect(changes.find((c) => c.table === 'labels')).toEqual({
      table: 'labels',
      op: 'INSERT',
      pk: [7, 'tier'],
      old: undefined,
      new: { label: 'tier', value: 'gold', account: 7 },
    });

    const update = capture(db, "UPDATE t SET name = 'c' WHERE id = 2");
    expect([...rowChanges(update, schema)]).toEqual([
      { table: 't', op: 'UPDATE', pk: [2], old: { id: 2, name: 'b' }, new: { name: 'c' } },
    ]);
    expect(lookups.sort()).toEqual(['labels', 't']); // cached
    schema.invalidate();
    [...rowChanges(update, schema)];
    expect(lookups).toHaveLength(3);
  });

  it('falls back to positional names when the schema is unknown or differs', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const changeset = capture(db, "INSERT INTO t VALUES (1, 'x')");
    const none = new SchemaCache(null);
    expect([...rowChanges(changeset, none)][0]?.new).toEqual({ 0: 1, 1: 'x' });
    const wrong = new SchemaCache(() => ['only_one']);
    expect([...rowChanges(changeset, wrong)][0]?.new).toEqual({ 0: 1, 1: 'x' });
    const throwing = new SchemaCache(() => {
      throw new Error('closed');
    });
    expect([...rowChanges(changeset, throwing)][0]?.new).toEqual({ 0: 1, 1: 'x' });
    // a database connection works as the source
    const fromDb = new SchemaCache(db as never);
    expect([...rowChanges(changeset, fromDb)][0]?.new).toEqual({ id: 1, v: 'x' });
  });

  it('throws ChangesetFormatError on a malformed changeset', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const changeset = capture(db, "INSERT INTO t VALUES (1, 'x')");
    expect(() => [
      ...rowChanges(changeset.subarray(0, changeset.length - 2), new SchemaCache(null)),
    ]).toThrow(ChangesetFormatError);
  });
});
