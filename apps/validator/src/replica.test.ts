import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { ValidatorStartupError } from './errors';
import { openReplica } from './replica';

describe('openReplica', () => {
  it('creates the directory and opens WAL, synchronous=NORMAL and a read-only reader', () => {
    const path = join(tempDir('validator-replica-'), 'nested', 'deeper', 'replica.db');
    const replica = openReplica(path);
    try {
      expect(existsSync(path)).toBe(true);
      expect(replica.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(replica.db.pragma('synchronous', { simple: true })).toBe(1);
      expect(replica.db.pragma('foreign_keys', { simple: true })).toBe(0);
      replica.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      replica.db.prepare('INSERT INTO t VALUES (1, ?)').run('a');
      const reader = replica.readDb!;
      expect(reader.prepare('SELECT v FROM t').get()).toEqual({ v: 'a' });
      expect(() => reader.exec("INSERT INTO t VALUES (2, 'b')")).toThrow(/readonly/i);
    } finally {
      replica.close();
      replica.close();
    }
    expect(replica.db.open).toBe(false);
  });

  it('has no reader for :memory:', () => {
    const replica = openReplica(':memory:');
    expect(replica.readDb).toBeNull();
    replica.close();
  });

  it('fails with ValidatorStartupError when the path is unusable', () => {
    const dir = tempDir('validator-replica-');
    // A directory where the file should be.
    expect(() => openReplica(dir)).toThrow(ValidatorStartupError);
  });
});
