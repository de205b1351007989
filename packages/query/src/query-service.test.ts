import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { QueryConfigError, QueryError } from './errors';
import { QUERY_LATENCY_METRIC } from './query-metrics';
import { queryResultJson, queryResultJsonBytes } from './query-result-json';
import { createQueryService, type QueryService } from './query-service';
import type { SequenceSource } from './sequence-source';

// The replica is written here with node:sqlite; the workers (other processes) read it.
let dir: string;
let path: string;
let writer: DatabaseSync;
let service: QueryService;
const registry = new Registry();
const applied = new EventEmitter();
let cursor = 41n;
const source: SequenceSource = {
  lastSequence: () => cursor,
  onApplied(listener) {
    applied.on('applied', listener);
    return () => applied.off('applied', listener);
  },
};

function setCursor(sequence: bigint) {
  writer.prepare('UPDATE _synddb_cursor SET last_sequence = ? WHERE id = 1').run(sequence);
  cursor = sequence;
  applied.emit('applied');
}

beforeAll(async () => {
  dir = tempDir('query-service-', { scope: 'file' });
  path = join(dir, 'replica.db');
  writer = new DatabaseSync(path);
  onCleanup(() => writer.close(), { scope: 'file' });
  writer.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), last_sequence INTEGER NOT NULL,
      last_timestamp INTEGER NOT NULL DEFAULT 0, applied_at INTEGER NOT NULL DEFAULT 0);
    INSERT INTO _synddb_cursor (id, last_sequence) VALUES (1, 41);
    CREATE TABLE "_SyndDB_Gaps" (id INTEGER PRIMARY KEY, secret TEXT);
    INSERT INTO "_SyndDB_Gaps" VALUES (1, 'hidden');
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER, data BLOB, ratio REAL);
    INSERT INTO accounts VALUES
      (1, 'alice', 9007199254740993, x'00ff10', 0.5),
      (2, 'bob', -9223372036854775808, NULL, 1e999),
      (3, 'carol', 42, x'', NULL);
    CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);
    CREATE TRIGGER accounts_audit AFTER INSERT ON accounts BEGIN INSERT INTO audit (note) VALUES ('x'); END;
    CREATE VIEW leak AS SELECT * FROM _synddb_cursor;
    CREATE VIEW leak2 AS SELECT a.name, (SELECT secret FROM "_SyndDB_Gaps") AS s FROM accounts a;
    CREATE VIEW rich AS SELECT name FROM accounts WHERE balance > 100;
    CREATE TABLE events (seq INTEGER PRIMARY KEY, payload TEXT);
  `);
  service = createQueryService({
    databasePath: path,
    workers: 2,
    // generous: a loaded CI machine must not turn ordinary queries into timeouts; the timeout
    // tests pass their own limit
    timeoutMs: 5000,
    maxRows: 50,
    maxBytes: 4096,
    minSequenceMaxWaitMs: 300,
    sequence: source,
    registry,
  });
  onCleanup(() => service.close(), { scope: 'file' });
  await service.ready();
});

const refusal = async (sql: string, params?: unknown[]) => {
  const error = await service.query({ sql, params }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, sql).toBeInstanceOf(QueryError);
  return (error as QueryError).code;
};

describe('createQueryService', () => {
  it('answers rows, columns and the sequence of the same snapshot, with exact values', async () => {
    const r = await service.query({ sql: 'SELECT * FROM accounts ORDER BY id' });
    expect(r.columns).toEqual(['id', 'name', 'balance', 'data', 'ratio']);
    expect(r.sequence).toBe(41n);
    expect(JSON.parse(r.rowsJson)).toEqual([
      [1, 'alice', '9007199254740993', '0x00ff10', 0.5],
      [2, 'bob', '-9223372036854775808', null, 'Infinity'],
      [3, 'carol', 42, '0x', null],
    ]);
  });

  it('keeps the rows as the worker wrote them: bytes and the lazily decoded text agree', async () => {
    const r = await service.query({
      sql: 'SELECT name, \'é漢字🙂 "q" \\ \' || char(10) AS t FROM accounts ORDER BY id',
    });
    expect(Buffer.from(r.rowsJsonBytes).toString('utf8')).toBe(r.rowsJson);
    expect(JSON.parse(r.rowsJson)[0]).toEqual(['alice', 'é漢字🙂 "q" \\ \n']);
    const bytes = queryResultJsonBytes(r);
    expect(bytes.equals(Buffer.from(queryResultJson(r)))).toBe(true);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({
      columns: ['name', 't'],
      rows: JSON.parse(r.rowsJson),
      sequence: 41,
    });
    // a sequence past 2^53 stays exact (a string)
    const big = { ...r, rowsJson: r.rowsJson, sequence: 2n ** 63n - 1n };
    expect(JSON.parse(queryResultJsonBytes(big).toString()).sequence).toBe('9223372036854775807');
  });

  it('binds positional and named params (safe integers as INTEGER)', async () => {
    const a = await service.query({
      sql: 'SELECT name, typeof(?) FROM accounts WHERE id = ?',
      params: [7, 2],
    });
    expect(JSON.parse(a.rowsJson)).toEqual([['bob', 'integer']]);
    const b = await service.query({
      sql: 'SELECT name FROM accounts WHERE balance = CAST(:big AS INTEGER) OR name = @n',
      params: { big: '9007199254740993', n: 'carol' },
    });
    expect(JSON.parse(b.rowsJson)).toEqual([['alice'], ['carol']]);
    const c = await service.query({
      sql: 'SELECT typeof(?), typeof(?), typeof(?), ?',
      params: ['1', 1.5, null, true],
    });
    expect(JSON.parse(c.rowsJson)).toEqual([['text', 'real', 'null', 1]]);
  });

  it.each([
    ["INSERT INTO accounts (name) VALUES ('mallory')", 'QUERY_READ_ONLY'],
    ['UPDATE accounts SET balance = 0', 'QUERY_READ_ONLY'],
    ['DELETE FROM accounts', 'QUERY_READ_ONLY'],
    ['REPLACE INTO accounts (id) VALUES (1)', 'QUERY_READ_ONLY'],
    ['CREATE TABLE x (a)', 'QUERY_READ_ONLY'],
    ['CREATE TEMP TABLE x (a)', 'QUERY_READ_ONLY'],
    ['CREATE TEMP VIEW v AS SELECT 1', 'QUERY_READ_ONLY'],
    ['CREATE TEMP TRIGGER t AFTER INSERT ON accounts BEGIN SELECT 1; END', 'QUERY_READ_ONLY'],
    ['DROP TABLE accounts', 'QUERY_READ_ONLY'],
    ['DROP VIEW leak', 'QUERY_READ_ONLY'],
    ['ALTER TABLE accounts ADD COLUMN z', 'QUERY_READ_ONLY'],
    ['CREATE INDEX i ON accounts (name)', 'QUERY_READ_ONLY'],
    ['REINDEX', 'QUERY_NOT_A_READ'],
    ['ANALYZE', 'QUERY_READ_ONLY'],
    ['VACUUM', 'QUERY_NOT_A_READ'],
    ["VACUUM INTO '/tmp/stolen.db'", 'QUERY_NOT_A_READ'],
    ['BEGIN', 'QUERY_READ_ONLY'],
    ['SAVEPOINT s', 'QUERY_READ_ONLY'],
    ["ATTACH DATABASE ':memory:' AS other", 'QUERY_READ_ONLY'],
    ['DETACH DATABASE main', 'QUERY_READ_ONLY'],
    ['PRAGMA journal_mode = DELETE', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA user_version = 7', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA writable_schema = ON', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA query_only = OFF', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA busy_timeout = 0', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA wal_checkpoint(TRUNCATE)', 'QUERY_NOT_ALLOWED'],
    ['PRAGMA database_list', 'QUERY_NOT_ALLOWED'],
    ['SELECT * FROM pragma_database_list', 'QUERY_NOT_ALLOWED'],
    ["SELECT load_extension('/tmp/evil.so')", 'QUERY_NOT_ALLOWED'],
    ["SELECT LOAD_EXTENSION('/tmp/evil.so', 'init')", 'QUERY_NOT_ALLOWED'],
    ['SELECT * FROM dbstat', 'QUERY_NOT_ALLOWED'],
    ['SELECT 1; SELECT 2', 'QUERY_MULTIPLE_STATEMENTS'],
    ["SELECT 1; INSERT INTO accounts (name) VALUES ('x')", 'QUERY_MULTIPLE_STATEMENTS'],
    ['SELECT 1 /* c */ ; -- c\n DELETE FROM accounts', 'QUERY_MULTIPLE_STATEMENTS'],
    ["WITH x AS (SELECT 1) INSERT INTO accounts (name) SELECT 'y' FROM x", 'QUERY_READ_ONLY'],
    ['WITH x AS (SELECT 1) DELETE FROM accounts WHERE id IN (SELECT * FROM x)', 'QUERY_READ_ONLY'],
    ["INSERT INTO accounts (name) VALUES ('fires the trigger') RETURNING id", 'QUERY_READ_ONLY'],
    ['UPDATE accounts SET balance = 0 RETURNING *', 'QUERY_READ_ONLY'],
    ['SELECT * FROM _synddb_cursor', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM "_SYNDDB_CURSOR"', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM main._synddb_cursor', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM [_SyndDB_Gaps]', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM `_synddb_gaps`', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM leak', 'QUERY_INTERNAL_TABLE'],
    ['SELECT * FROM leak2', 'QUERY_INTERNAL_TABLE'],
    ['SELECT (SELECT last_sequence FROM _synddb_cursor) AS s', 'QUERY_INTERNAL_TABLE'],
    ['WITH c AS (SELECT * FROM _synddb_cursor) SELECT * FROM c', 'QUERY_INTERNAL_TABLE'],
    ['SELECT a.name FROM accounts a JOIN _synddb_gaps g ON g.id = a.id', 'QUERY_INTERNAL_TABLE'],
    ['SELECT count(*) FROM _synddb_cursor', 'QUERY_INTERNAL_TABLE'],
    ["SELECT EXISTS (SELECT 1 FROM _synddb_gaps WHERE secret LIKE 'h%')", 'QUERY_INTERNAL_TABLE'],
    ['', 'QUERY_SQL'],
    ['SELEC 1', 'QUERY_SQL'],
    ['SELECT * FROM nope', 'QUERY_SQL'],
  ])('refuses %j', async (sql, code) => {
    expect(await refusal(sql)).toBe(code);
  });

  it('left the replica untouched by all of the above', () => {
    expect(writer.prepare('SELECT count(*) AS n FROM accounts').get()).toEqual({ n: 3 });
    expect(writer.prepare('SELECT count(*) AS n FROM audit').get()).toEqual({ n: 0 });
    expect(writer.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
  });

  it('allows schema reads: sqlite_schema (internal DDL included), views, CTEs, table_info', async () => {
    const schema = await service.query({
      sql: "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    });
    expect(JSON.parse(schema.rowsJson).flat()).toContain('_synddb_cursor');
    const view = await service.query({ sql: 'SELECT * FROM rich' });
    expect(JSON.parse(view.rowsJson)).toEqual([['alice']]);
    const cte = await service.query({
      sql: 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT sum(x) FROM n',
    });
    expect(JSON.parse(cte.rowsJson)).toEqual([[15]]);
    const info = await service.query({ sql: "SELECT name FROM pragma_table_info('accounts')" });
    expect(JSON.parse(info.rowsJson)).toHaveLength(5);
    const trailing = await service.query({ sql: 'SELECT 1 ; -- done\n /* really */ ;' });
    expect(JSON.parse(trailing.rowsJson)).toEqual([[1]]);
  });

  it('enforces row and size limits', async () => {
    const rows =
      'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 51) SELECT x FROM n';
    expect(await refusal(rows)).toBe('QUERY_ROW_LIMIT');
    const ok = await service.query({ sql: rows.replace('51', '50') });
    expect(ok.rowCount).toBe(50);
    expect(await refusal('SELECT hex(zeroblob(3000))')).toBe('QUERY_SIZE_LIMIT');
    expect(await refusal('SELECT zeroblob(100000000)')).toBe('QUERY_SIZE_LIMIT');
  });

  it('interrupts a long statement at its time limit and keeps serving', async () => {
    const spawned = service.pool.spawned;
    const started = performance.now();
    const error = await service
      .query({
        sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c',
        timeoutMs: 400,
      })
      .catch((e: QueryError) => e);
    const elapsed = performance.now() - started;
    expect((error as QueryError).code).toBe('QUERY_TIMEOUT');
    expect((error as QueryError).status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(4000);
    // A shorter limit from the request applies too.
    const quick = await service
      .query({
        sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
        timeoutMs: 50,
      })
      .catch((e: QueryError) => e);
    expect((quick as QueryError).code).toBe('QUERY_TIMEOUT');
    // Interrupted once they have run the interrupt floor (1 s), then replaced.
    await waitFor(() => service.pool.spawned >= spawned + 1, 'a replacement worker');
    await service.ready(); // the replacements have opened the replica
    const after = await Promise.all(
      [1, 2, 3, 4].map((i) => service.query({ sql: 'SELECT ?', params: [i] })),
    );
    expect(after.map((r) => JSON.parse(r.rowsJson)[0][0])).toEqual([1, 2, 3, 4]);
  });

  it('re-runs queries that waited behind a statement killed at its time limit', async () => {
    const long = service
      .query({
        sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
        timeoutMs: 400,
      })
      .catch((e: QueryError) => e);
    // more than both workers' pipelines hold: some queue behind the long statement
    const short = Array.from({ length: 40 }, (_, i) =>
      service.query({ sql: 'SELECT ?', params: [i] }),
    );
    const answers = await Promise.all(short);
    expect(answers.map((r) => JSON.parse(r.rowsJson)[0][0])).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expect(((await long) as QueryError).code).toBe('QUERY_TIMEOUT');
  });

  it('waits for min_sequence, then answers from a snapshot at or beyond it', async () => {
    const listening = applied.listenerCount('applied');
    let answered = false;
    const waiting = service.query({ sql: 'SELECT 1', minSequence: 45n }).finally(() => {
      answered = true;
    });
    // The query waits for the engine's next commit (it subscribed), not for a timer.
    expect(applied.listenerCount('applied')).toBe(listening + 1);
    await service.query({ sql: 'SELECT 1' }); // a round trip to a worker: still waiting
    expect(answered).toBe(false);
    setCursor(45n);
    const r = await waiting;
    expect(r.sequence).toBe(45n);
    expect(applied.listenerCount('applied')).toBe(listening);
    const now = await service.query({ sql: 'SELECT 1', minSequence: 10n });
    expect(now.sequence).toBe(45n);
  });

  it('gives up on min_sequence after the bound with MIN_SEQUENCE_TIMEOUT', async () => {
    const started = performance.now();
    const error = await service
      .query({ sql: 'SELECT 1', minSequence: 1000n })
      .catch((e: QueryError) => e);
    expect((error as QueryError).code).toBe('MIN_SEQUENCE_TIMEOUT');
    expect((error as QueryError).status).toBe(504);
    expect((error as QueryError).sequence).toBe(45n);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(1000);
  });

  it('reads consistent snapshots while a writer commits at full speed, never a busy error', async () => {
    const base = cursor;
    let seq = base;
    let stop = false;
    const insert = writer.prepare('INSERT INTO events (seq, payload) VALUES (?, ?)');
    const move = writer.prepare('UPDATE _synddb_cursor SET last_sequence = ? WHERE id = 1');
    writer.exec('DELETE FROM events');
    insert.run(base, 'base');
    // Each commit adds events seq+1..seq+5 and moves the cursor to seq+5, like the engine does.
    // Back to back, but never more than 5 commits ahead of the readers: on a loaded machine the
    // writer otherwise finished its 400 commits before the readers saw more than a few of them.
    let ahead = 0;
    const writing = (async () => {
      // at most 400 commits: the readers' count(*) scans every row, and an unbounded table made
      // 300 queries outlast the test's limit on a loaded machine
      while (!stop && seq - base < 2000n) {
        writer.exec('BEGIN IMMEDIATE');
        for (let i = 1n; i <= 5n; i++) insert.run(seq + i, 'x'.repeat(200));
        move.run(seq + 5n);
        writer.exec('COMMIT');
        seq += 5n;
        cursor = seq;
        applied.emit('applied');
        ahead++;
        do await new Promise((r) => setImmediate(r));
        while (ahead >= 5 && !stop);
      }
    })();
    let checked = 0;
    const seen = new Set<bigint>();
    const reader = async () => {
      while (checked < 300) {
        const r = await service.query({ sql: 'SELECT count(*), max(seq), min(seq) FROM events' });
        const [[count, max, min]] = JSON.parse(r.rowsJson) as [[number, number, number]];
        expect(BigInt(max)).toBe(r.sequence);
        expect(BigInt(count)).toBe((r.sequence ?? 0n) - base + 1n);
        expect(BigInt(min)).toBe(base);
        seen.add(r.sequence ?? -1n);
        checked++;
        ahead = 0;
      }
    };
    await Promise.all([reader(), reader(), reader()]);
    stop = true;
    await writing;
    expect(seq - base).toBeGreaterThan(100n);
    expect(seen.size).toBeGreaterThan(10);
  }, 120_000);

  it('records every query in synddb_query_latency_seconds by endpoint and outcome', async () => {
    await service.query({ sql: 'SELECT 1' }, 'synddb_query');
    await service.query({ sql: 'SELECT * FROM nope' }, 'synddb_query').catch(() => {});
    const text = await registry.metrics();
    const count = (labels: string) => {
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`${QUERY_LATENCY_METRIC}_count{${labels}}`));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    };
    expect(count('endpoint="synddb_query",outcome="ok"')).toBe(1);
    expect(count('endpoint="synddb_query",outcome="client_error"')).toBe(1);
    // the earlier tests, on the default endpoint
    expect(count('endpoint="/query",outcome="ok"')).toBeGreaterThan(100);
    expect(count('endpoint="/query",outcome="client_error"')).toBeGreaterThan(40);
    expect(count('endpoint="/query",outcome="timeout"')).toBeGreaterThanOrEqual(4);
  });

  it('validates its options', () => {
    expect(() => createQueryService({ databasePath: path, workers: 0 })).toThrow(/workers/);
    expect(() => createQueryService({ databasePath: path, maxBytes: 1 })).toThrow(/maxBytes/);
    expect(() => createQueryService({ databasePath: path, workers: 0 })).toThrow(QueryConfigError);
  });

  it('reports a replica that cannot be opened as QUERY_UNAVAILABLE', async () => {
    const missing = createQueryService({ databasePath: join(dir, 'missing', 'x.db'), workers: 1 });
    try {
      await expect(missing.ready()).rejects.toMatchObject({ code: 'QUERY_UNAVAILABLE' });
      await expect(missing.query({ sql: 'SELECT 1' })).rejects.toMatchObject({
        code: 'QUERY_UNAVAILABLE',
      });
    } finally {
      await missing.close();
    }
  });

  it('answers QUERY_UNAVAILABLE once closed, also to ready()', async () => {
    const closing = createQueryService({ databasePath: path, workers: 1 });
    // The handler is attached before close() rejects the pending ready().
    const starting = expect(closing.ready()).rejects.toMatchObject({ code: 'QUERY_UNAVAILABLE' });
    await closing.close();
    await starting;
    await expect(closing.ready()).rejects.toMatchObject({ code: 'QUERY_UNAVAILABLE' });
    await expect(closing.query({ sql: 'SELECT 1' })).rejects.toMatchObject({
      code: 'QUERY_UNAVAILABLE',
    });
  });
});
