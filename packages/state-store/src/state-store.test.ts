import { join } from 'node:path';
import { tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CursorConflictError,
  isReservedName,
  NotInTransactionError,
  openStateStore,
  readSchemaVersion,
  STATE_SCHEMA_VERSION,
  StateSchemaVersionError,
  StateValueError,
} from './index';

let dir: string;
beforeEach(() => {
  dir = tempDir('state-store-');
});

function openFile(name = 'replica.db') {
  const db = new Database(join(dir, name));
  db.pragma('journal_mode = WAL');
  return db;
}

describe('migrations', () => {
  it('creates the reserved tables once and records the version', () => {
    const db = openFile();
    openStateStore(db);
    openStateStore(db);
    expect(readSchemaVersion(db)).toBe(STATE_SCHEMA_VERSION);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining(['_synddb_cursor', '_synddb_gaps', '_synddb_meta', '_synddb_outbox']),
    );
    db.close();
  });

  it('refuses a schema written by a newer version', () => {
    const db = openFile();
    openStateStore(db);
    db.prepare("UPDATE _synddb_meta SET value = '99' WHERE key = 'schema_version'").run();
    expect(() => openStateStore(db)).toThrow(StateSchemaVersionError);
    db.close();
  });
});

describe('cursor', () => {
  it('starts empty and advances one sequence at a time inside transactions', () => {
    const db = openFile();
    const store = openStateStore(db, { now: () => 1234 });
    expect(store.cursor()).toBeNull();
    expect(store.nextSequence()).toBe(0n);
    expect(store.nextSequence(7n)).toBe(7n);
    db.transaction(() => store.recordApplied(0n, 1700000000n))();
    db.transaction(() => store.recordApplied(1n, 1700000001n))();
    expect(store.cursor()).toEqual({
      lastSequence: 1n,
      lastTimestamp: 1700000001n,
      appliedAt: 1234,
    });
    expect(store.nextSequence()).toBe(2n);
    db.close();
  });

  it('rejects repeated, skipped and out-of-transaction updates', () => {
    const db = openFile();
    const store = openStateStore(db);
    expect(() => store.recordApplied(0n, 1n)).toThrow(NotInTransactionError);
    db.transaction(() => store.recordApplied(0n, 1n))();
    expect(() => db.transaction(() => store.recordApplied(0n, 1n))()).toThrow(CursorConflictError);
    expect(() => db.transaction(() => store.recordApplied(2n, 1n))()).toThrow(CursorConflictError);
    expect(() => db.transaction(() => store.recordApplied(-1n, 1n))()).toThrow(StateValueError);
    expect(store.cursor()?.lastSequence).toBe(0n);
    db.close();
  });

  it('honours a start sequence for a fresh replica', () => {
    const db = openFile();
    const store = openStateStore(db);
    expect(() => db.transaction(() => store.recordApplied(5n, 1n))()).toThrow(CursorConflictError);
    db.transaction(() => store.recordApplied(5n, 1n, { startSequence: 5n }))();
    expect(store.nextSequence()).toBe(6n);
    db.close();
  });

  it('rolls back with the data when the transaction fails', () => {
    const db = openFile();
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const store = openStateStore(db);
    const apply = db.transaction((seq: bigint, fail: boolean) => {
      db.prepare('INSERT INTO t (id) VALUES (?)').run(seq);
      store.recordApplied(seq, 0n);
      if (fail) throw new Error('apply failed');
    });
    apply(0n, false);
    expect(() => apply(1n, true)).toThrow('apply failed');
    expect(store.cursor()?.lastSequence).toBe(0n);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1);
    db.close();
  });

  it('survives reopening the file (progress is durable with the data)', () => {
    const db = openFile();
    const store = openStateStore(db);
    db.transaction(() => store.recordApplied(0n, 10n))();
    db.close();
    const again = openStateStore(openFile());
    expect(again.cursor()?.lastSequence).toBe(0n);
    again.db.close();
  });

  it('keeps sequences beyond 2^53 exact', () => {
    const db = openFile();
    const store = openStateStore(db);
    const big = (1n << 62n) + 1n;
    db.transaction(() => store.recordApplied(big, big, { startSequence: big }))();
    expect(store.cursor()?.lastSequence).toBe(big);
    expect(store.nextSequence()).toBe(big + 1n);
    db.close();
  });
});

describe('gaps', () => {
  it('records a skipped range and moves the cursor past it atomically', () => {
    const db = openFile();
    const store = openStateStore(db, { now: () => 99 });
    db.transaction(() => store.recordApplied(0n, 5n))();
    store.recordGap({ start: 1n, end: 4n, reason: 'batch missing' });
    expect(store.gaps()).toEqual([{ start: 1n, end: 4n, reason: 'batch missing', detectedAt: 99 }]);
    expect(store.nextSequence()).toBe(4n);
    expect(() => store.recordGap({ start: 2n, end: 5n, reason: 'x' })).toThrow(CursorConflictError);
    expect(() => store.recordGap({ start: 4n, end: 4n, reason: 'x' })).toThrow(StateValueError);
    db.close();
  });
});

describe('outbox', () => {
  it('enqueues inside the data transaction, idempotently, and persists signatures', () => {
    const db = openFile();
    const store = openStateStore(db, { now: () => 5 });
    const body = new Uint8Array([1, 2, 3]);
    expect(() => store.enqueue({ messageId: 'a', sequence: 1n, kind: 'withdrawal', body })).toThrow(
      NotInTransactionError,
    );
    db.transaction(() => {
      expect(store.enqueue({ messageId: 'a', sequence: 1n, kind: 'withdrawal', body })).toBe(true);
      expect(store.enqueue({ messageId: 'a', sequence: 1n, kind: 'withdrawal', body })).toBe(false);
      expect(store.enqueue({ messageId: 'b', sequence: 2n, kind: 'withdrawal', body })).toBe(true);
    })();
    expect(store.unsigned().map((e) => e.messageId)).toEqual(['a', 'b']);
    expect(store.signedCount()).toBe(0);
    store.recordSigningError('a', 'signer offline');
    expect(store.outboxEntry('a')?.error).toBe('signer offline');
    store.recordSignature('a', { signature: '0xsig', signer: '0xsigner' });
    expect(store.unsigned().map((e) => e.messageId)).toEqual(['b']);
    const signed = store.signed();
    expect(signed).toHaveLength(1);
    expect(store.signedCount()).toBe(1);
    // the signed list is served in sequence order from a partial index, not a sort of the table
    const plan = db
      .prepare(
        'EXPLAIN QUERY PLAN SELECT * FROM _synddb_outbox WHERE signature IS NOT NULL ORDER BY sequence, message_id LIMIT 1',
      )
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('_synddb_outbox_signed');
    expect(signed[0]).toMatchObject({
      messageId: 'a',
      signature: '0xsig',
      signer: '0xsigner',
      error: null,
    });
    expect(signed[0]?.body).toEqual(body);
    expect(() => store.recordSignature('zzz', { signature: 's', signer: 's' })).toThrow(
      StateValueError,
    );
    db.close();
  });
});

describe('copyInto (snapshot swap)', () => {
  it('carries gaps and outbox into a new image, sets the cursor, and drops reserved tables of the image', () => {
    const db = openFile();
    const store = openStateStore(db, { now: () => 1 });
    db.transaction(() => {
      store.recordApplied(0n, 1n);
      store.enqueue({
        messageId: 'w',
        sequence: 0n,
        kind: 'withdrawal',
        body: new Uint8Array([9]),
      });
    })();
    store.recordGap({ start: 1n, end: 3n, reason: 'skip' });

    const image = openFile('image.db');
    image.exec(`CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER);
      INSERT INTO accounts VALUES (1, 100);
      CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last_sequence INTEGER);
      INSERT INTO _synddb_cursor VALUES (1, 999999);
      CREATE TABLE _synddb_evil (x);`);
    store.copyInto(image, { sequence: 10n, timestamp: 77n });
    const restored = openStateStore(image);
    expect(restored.cursor()).toMatchObject({ lastSequence: 10n, lastTimestamp: 77n });
    expect(restored.gaps()).toHaveLength(1);
    expect(restored.outboxEntry('w')?.body).toEqual(new Uint8Array([9]));
    expect(
      image.prepare("SELECT count(*) FROM sqlite_master WHERE name = '_synddb_evil'").pluck().get(),
    ).toBe(0);
    expect(image.prepare('SELECT balance FROM accounts').pluck().get()).toBe(100);
    image.close();
    db.close();
  });

  it("carries every component's reserved tables with their rows, indexes, views and triggers", () => {
    const db = openFile('ledger-src.db');
    const store = openStateStore(db, { now: () => 1 });
    // a table another component (e.g. the bridge signer's withdrawal ledger) keeps in the replica
    db.exec(`CREATE TABLE _synddb_ledger (id BLOB PRIMARY KEY, amount TEXT NOT NULL, day INTEGER);
      CREATE INDEX _synddb_ledger_day ON _synddb_ledger (day) WHERE day IS NOT NULL;
      CREATE VIEW _synddb_ledger_days AS SELECT day, count(*) AS n FROM _synddb_ledger GROUP BY day;
      CREATE TABLE _synddb_ledger_log (id BLOB);
      CREATE TRIGGER _synddb_ledger_logged AFTER INSERT ON _synddb_ledger
        BEGIN INSERT INTO _synddb_ledger_log VALUES (new.id); END;
      INSERT INTO _synddb_meta (key, value) VALUES ('ledger_schema_version', '2');`);
    const big = 2n ** 70n;
    db.prepare('INSERT INTO _synddb_ledger VALUES (?, ?, ?)').run(
      Buffer.from([1, 2]),
      `${big}`,
      20_000,
    );
    db.prepare('INSERT INTO _synddb_ledger VALUES (?, ?, ?)').run(Buffer.from([3]), '5', null);
    db.transaction(() => store.recordApplied(0n, 9n))();

    const image = openFile('ledger-image.db');
    image.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY);
      CREATE TABLE _synddb_ledger (forged);
      INSERT INTO _synddb_ledger VALUES ('from the image');`);
    store.copyInto(image, { sequence: 12n, timestamp: 99n });

    expect(image.prepare('SELECT * FROM _synddb_ledger ORDER BY id').raw().all()).toEqual([
      [Buffer.from([1, 2]), `${big}`, 20_000],
      [Buffer.from([3]), '5', null],
    ]);
    expect(image.prepare('SELECT * FROM _synddb_ledger_days ORDER BY day').raw().all()).toEqual([
      [null, 1],
      [20_000, 1],
    ]);
    const names = image
      .prepare(
        "SELECT type || ':' || name FROM sqlite_master WHERE name LIKE '\\_synddb\\_ledger%' ESCAPE '\\' ORDER BY 1",
      )
      .pluck()
      .all();
    expect(names).toEqual([
      'index:_synddb_ledger_day',
      'table:_synddb_ledger',
      'table:_synddb_ledger_log',
      'trigger:_synddb_ledger_logged',
      'view:_synddb_ledger_days',
    ]);
    // the log's rows were copied as they were, and the trigger came along and fires again
    expect(image.prepare('SELECT count(*) FROM _synddb_ledger_log').pluck().get()).toBe(2);
    image.prepare('INSERT INTO _synddb_ledger VALUES (?, ?, ?)').run(Buffer.from([4]), '1', 1);
    expect(image.prepare('SELECT count(*) FROM _synddb_ledger_log').pluck().get()).toBe(3);
    expect(
      image
        .prepare("SELECT value FROM _synddb_meta WHERE key = 'ledger_schema_version'")
        .pluck()
        .get(),
    ).toBe('2');
    expect(openStateStore(image).cursor()).toMatchObject({ lastSequence: 12n, lastTimestamp: 99n });
    image.close();
    db.close();
  });

  it('knows its reserved names', () => {
    expect(isReservedName('_synddb_cursor')).toBe(true);
    expect(isReservedName('_SyndDB_x')).toBe(true);
    expect(isReservedName('accounts')).toBe(false);
  });
});

describe('state root state and outbox reads by kind', () => {
  it('keeps the LtHash16 bytes with their sequence, written only inside a transaction', () => {
    const db = openFile();
    const store = openStateStore(db);
    expect(store.stateRootState()).toBeNull();
    const lthash = new Uint8Array(2048).fill(7);
    expect(() => store.setStateRootState(3n, lthash)).toThrow(NotInTransactionError);
    db.transaction(() => store.setStateRootState(3n, lthash))();
    db.transaction(() => store.setStateRootState(4n, lthash.fill(9)))();
    db.close();
    const reopened = openStateStore(openFile());
    expect(reopened.stateRootState()).toEqual({
      sequence: 4n,
      lthash: new Uint8Array(2048).fill(9),
    });
    reopened.db.close();
  });

  it('drops a state stored before the element hash changed (migration 4)', () => {
    const db = openFile();
    const store = openStateStore(db);
    db.transaction(() => store.setStateRootState(3n, new Uint8Array(2048).fill(7)))();
    db.prepare("UPDATE _synddb_meta SET value = '3' WHERE key = 'schema_version'").run();
    db.close();
    const reopened = openStateStore(openFile());
    expect(readSchemaVersion(reopened.db)).toBe(STATE_SCHEMA_VERSION);
    expect(reopened.stateRootState()).toBeNull();
    reopened.db.close();
  });

  it('lists unsigned entries of one kind and signed entries at a sequence', () => {
    const db = openFile();
    const store = openStateStore(db);
    db.transaction(() => {
      store.enqueue({ messageId: 'w1', sequence: 5n, kind: 'withdrawal', body: new Uint8Array() });
      store.enqueue({
        messageId: 'state:5',
        sequence: 5n,
        kind: 'state_attestation',
        body: new Uint8Array(),
      });
      store.enqueue({
        messageId: 'state:6',
        sequence: 6n,
        kind: 'state_attestation',
        body: new Uint8Array(),
      });
    })();
    expect(store.unsignedOfKind('state_attestation').map((e) => e.messageId)).toEqual([
      'state:5',
      'state:6',
    ]);
    store.recordSignature('state:5', { signature: '0xab', signer: '0xcd' });
    store.recordSignature('w1', { signature: '0xef', signer: '0xcd' });
    expect(store.unsignedOfKind('state_attestation').map((e) => e.messageId)).toEqual(['state:6']);
    expect(store.signedAt(5n, 'state_attestation').map((e) => e.messageId)).toEqual(['state:5']);
    expect(store.signedAt(6n, 'state_attestation')).toEqual([]);
    expect(store.signedAt(-1n, 'state_attestation')).toEqual([]);
    expect(store.signedAt(2n ** 64n, 'state_attestation')).toEqual([]);
    db.close();
  });
});
