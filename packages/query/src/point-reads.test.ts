// Point reads (`pointReads`): answered on this thread only after a worker answered the same text,
// only for programs that read one row by key, byte for byte what a worker answers, and never
// for what a worker refuses. The replica is written with better-sqlite3 here: this process also
// reads it with better-sqlite3 (point reads), and must not open it with a second SQLite copy.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { onCleanup, tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { QueryError } from './errors';
import { queryResultJson } from './query-result-json';
import { createQueryService, type QueryInput, type QueryService } from './query-service';
import type { SequenceSource } from './sequence-source';

let path: string;
let writer: Database.Database;
const applied = new EventEmitter();
let cursor = 5n;
const source: SequenceSource = {
  lastSequence: () => cursor,
  onApplied(listener) {
    applied.on('applied', listener);
    return () => applied.off('applied', listener);
  },
};

function commit(sql: string, sequence: bigint) {
  writer.transaction(() => {
    writer.exec(sql);
    writer.prepare('UPDATE _synddb_cursor SET last_sequence = ? WHERE id = 1').run(sequence);
  })();
  cursor = sequence;
  applied.emit('applied');
}

beforeAll(() => {
  path = join(tempDir('point-reads-', { scope: 'file' }), 'replica.db');
  writer = new Database(path);
  onCleanup(() => writer.close(), { scope: 'file' });
  writer.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL);
    INSERT INTO _synddb_cursor VALUES (1, 5);
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER, data BLOB, ratio REAL);
    INSERT INTO accounts VALUES
      (1, 'alice', 9007199254740993, x'00ff10', 0.5),
      (2, 'bøb "q" \\ 😀', -9223372036854775808, NULL, 1e999),
      (3, 'carol', 42, x'', NULL),
      (4, 'dave', 7, zeroblob(40000), -0.0);
    CREATE INDEX accounts_name ON accounts(name);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
    INSERT INTO kv VALUES ('a', 1), ('b', 2.25);
    CREATE TABLE pairs (a INTEGER, b INTEGER, c TEXT, UNIQUE (a, b));
    INSERT INTO pairs VALUES (1, 2, 'x'), (1, 3, 'y');
  `);
});

function services(pointReads: Parameters<typeof createQueryService>[0]['pointReads']) {
  const make = (on: boolean) => {
    const s = createQueryService({
      databasePath: path,
      workers: 1,
      sequence: source,
      minSequenceMaxWaitMs: 200,
      ...(on ? { pointReads } : {}),
    });
    onCleanup(() => s.close());
    return s;
  };
  return { here: make(true), workers: make(false) };
}

/** The answer as the API sends it, or the error's code and status. */
async function answer(service: QueryService, input: QueryInput) {
  try {
    const r = await service.query(input);
    return { json: queryResultJson(r), rowCount: r.rowCount, sequence: r.sequence };
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    return { code: error.code, status: error.status, sequence: error.sequence };
  }
}

describe('point reads', () => {
  const POINT: QueryInput[] = [
    { sql: 'SELECT * FROM accounts WHERE id = ?', params: [1] },
    { sql: 'SELECT * FROM accounts WHERE id = ?', params: [2] },
    { sql: 'SELECT * FROM accounts WHERE id = ?', params: [3] },
    { sql: 'SELECT * FROM accounts WHERE id = ?', params: [99] },
    { sql: 'SELECT name, balance FROM accounts WHERE id = :id', params: { id: 1 } },
    { sql: 'SELECT v, k FROM kv WHERE k = ?', params: ['b'] },
    { sql: 'SELECT c FROM pairs WHERE a = ? AND b = ?', params: [1, 3] },
    { sql: 'SELECT id, ratio FROM accounts WHERE id = ? AND balance > ?', params: [1, true] },
    { sql: 'SELECT 1 AS one, NULL, 2.5, ?', params: ['p'] },
  ];

  it('answers learned point queries on this thread, byte for byte what a worker answers', async () => {
    const { here, workers } = services(true);
    await Promise.all([here.ready(), workers.ready()]);
    for (const input of POINT) {
      const first = await answer(here, input); // a worker answers, the statement is learned
      expect(first).toEqual(await answer(workers, input));
    }
    const before = here.pointReadsAnswered;
    for (const input of POINT) {
      expect(await answer(here, input)).toEqual(await answer(workers, input));
    }
    expect(here.pointReadsAnswered - before).toBe(POINT.length);
  });

  it('leaves everything that is not one keyed row to the workers', async () => {
    const { here, workers } = services(true);
    await Promise.all([here.ready(), workers.ready()]);
    const others: QueryInput[] = [
      { sql: 'SELECT * FROM accounts' },
      { sql: 'SELECT id FROM accounts WHERE name = ?', params: ['alice'] }, // index, not unique
      { sql: 'SELECT length(zeroblob(?)) FROM accounts WHERE id = ?', params: [10, 1] },
      { sql: "SELECT name || 'x' FROM accounts WHERE id = ?", params: [1] },
      { sql: 'SELECT (SELECT count(*) FROM accounts) FROM accounts WHERE id = ?', params: [1] },
      { sql: 'SELECT * FROM accounts WHERE id IN (1, 2)' },
      { sql: 'SELECT * FROM accounts WHERE id = ? OR id = ?', params: [1, 2] },
      { sql: 'SELECT * FROM accounts ORDER BY name LIMIT 1' },
      { sql: 'PRAGMA table_info(accounts)' },
      { sql: `SELECT * FROM accounts WHERE id = 1 ${' '.repeat(600)}` }, // over maxSqlLength
    ];
    for (let round = 0; round < 3; round++) {
      for (const input of others) {
        expect(await answer(here, input)).toEqual(await answer(workers, input));
      }
    }
    expect(here.pointReadsAnswered).toBe(0);
  });

  it('never answers what a worker refuses', async () => {
    const { here } = services(true);
    await here.ready();
    for (let round = 0; round < 3; round++) {
      expect(
        await answer(here, { sql: 'SELECT * FROM _synddb_cursor WHERE id = 1' }),
      ).toMatchObject({
        code: 'QUERY_INTERNAL_TABLE',
      });
      expect(await answer(here, { sql: 'SELECT * FROM nope WHERE id = 1' })).toMatchObject({
        code: 'QUERY_SQL',
      });
    }
    expect(here.pointReadsAnswered).toBe(0);
  });

  it('sees each commit with its sequence, and leaves a min_sequence not reached to the workers', async () => {
    const { here } = services(true);
    await here.ready();
    const input = { sql: 'SELECT balance FROM accounts WHERE id = ?', params: [3] };
    await answer(here, input);
    expect(await answer(here, input)).toEqual({
      json: '{"columns":["balance"],"rows":[[42]],"sequence":5}',
      rowCount: 1,
      sequence: 5n,
    });
    commit('UPDATE accounts SET balance = 43 WHERE id = 3', 6n);
    expect(await answer(here, { ...input, minSequence: 6n })).toMatchObject({
      json: '{"columns":["balance"],"rows":[[43]],"sequence":6}',
    });
    const answered = here.pointReadsAnswered;
    expect(await answer(here, { ...input, minSequence: 7n })).toMatchObject({
      code: 'MIN_SEQUENCE_TIMEOUT',
    });
    expect(here.pointReadsAnswered).toBe(answered);
  });

  it('forgets what it learned when the schema changes', async () => {
    const { here, workers } = services(true);
    await Promise.all([here.ready(), workers.ready()]);
    const input = { sql: 'SELECT c FROM pairs WHERE a = ? AND b = ?', params: [1, 2] };
    await answer(here, input);
    await answer(here, input);
    expect(here.pointReadsAnswered).toBe(1);
    // the unique constraint goes: the same text now scans (a worker answers it)
    commit(
      'CREATE TABLE pairs2 (a INTEGER, b INTEGER, c TEXT); INSERT INTO pairs2 SELECT * FROM pairs; DROP TABLE pairs; ALTER TABLE pairs2 RENAME TO pairs;',
      7n,
    );
    for (let round = 0; round < 3; round++) {
      expect(await answer(here, input)).toEqual(await answer(workers, input));
    }
    expect(here.pointReadsAnswered).toBe(1);
  });

  it('keeps a statement whose parameters fail to bind for one request', async () => {
    const { here, workers } = services(true);
    await Promise.all([here.ready(), workers.ready()]);
    const sql = 'SELECT name FROM accounts WHERE id = ?';
    await answer(here, { sql, params: [1] });
    for (const params of [[], [1, 2], { id: 1 }, ['x']]) {
      expect(await answer(here, { sql, params })).toEqual(await answer(workers, { sql, params }));
    }
    const before = here.pointReadsAnswered;
    expect(await answer(here, { sql, params: [3] })).toEqual(
      await answer(workers, { sql, params: [3] }),
    );
    expect(here.pointReadsAnswered).toBe(before + 1);
  });

  it('sends a statement back to the workers when runs are over budget or too large', async () => {
    const slow = services({ budgetMs: 0 }).here;
    await slow.ready();
    const input = { sql: 'SELECT name FROM accounts WHERE id = ?', params: [1] };
    for (let round = 0; round < 6; round++) await answer(slow, input);
    // learned from the first, answered here three times (each over budget), then by workers
    expect(slow.pointReadsAnswered).toBe(3);

    const small = services({ maxResultBytes: 1000 }).here;
    await small.ready();
    const big = { sql: 'SELECT data FROM accounts WHERE id = ?', params: [4] };
    const answers = [];
    for (let round = 0; round < 3; round++) answers.push(await answer(small, big));
    expect(small.pointReadsAnswered).toBe(0);
    expect(answers[2]).toEqual(answers[0]);
    expect((answers[0] as { json: string }).json.length).toBeGreaterThan(80_000);
  });
});
