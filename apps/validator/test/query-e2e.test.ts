/**
 * Read queries against a real replica while the validator syncs it from the devnet sequencer at
 * full speed: every answer is one consistent snapshot (the bank's books balance at every
 * sequence), never a busy error; min_sequence waits, then 504s; writes are refused.
 */
import { join } from 'node:path';
import { createLogger } from '@synddb/app-kit';
import { startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { startValidator } from '../src/start-validator';

const ACCOUNTS = 8;
const INITIAL = 1000n;
const TRANSFERS = 600;

/** Accounts whose balance is not the initial one plus what transfers moved (0 in any real state). */
const BOOKS_SQL = `
  SELECT
    (SELECT count(*) FROM accounts a WHERE a.balance != ${INITIAL}
       + (SELECT coalesce(sum(amount), 0) FROM transfers WHERE to_account = a.id)
       - (SELECT coalesce(sum(amount), 0) FROM transfers WHERE from_account = a.id)) AS unbalanced,
    (SELECT count(*) FROM accounts) AS accounts,
    (SELECT count(*) FROM transfers) AS transfers,
    (SELECT sum(balance) FROM accounts) AS total`;

describe('read queries while the validator syncs', { timeout: 90_000 }, () => {
  it('answers consistent snapshots at full apply speed, waits for min_sequence, refuses writes', async () => {
    const dir = tempDir('validator-query-e2e-');
    const { sequencer, url, app } = await startDevnetWithApp({
      directory: dir,
      onCleanup,
      sequencer: { batchMaxMessages: 20 },
      idSeed: 3,
    });
    const ids: number[] = [];
    for (let i = 0; i < ACCOUNTS; i++) ids.push(await app.openAccount(`owner${i}`, INITIAL));
    for (let i = 0; i < TRANSFERS; i++) {
      const from = ids[i % ACCOUNTS]!;
      const to = ids[(i * 3 + 1) % ACCOUNTS]!;
      if (from !== to) await app.transfer(from, to, BigInt(1 + (i % 7)));
    }
    sequencer.flush();
    const head = (((await (await fetch(`${url}/status`)).json()) as { current_sequence: number })
      .current_sequence - 1) as number;

    const lines: string[] = [];
    const validator = await startValidator(
      {
        sequencerUrl: url,
        sequencerPubkey: sequencer.pubkeyHex,
        databasePath: join(dir, 'replica.db'),
        bindAddress: '127.0.0.1:0',
        syncInterval: '20ms',
        batchIndexRefreshInterval: '100ms',
        // Small commits: the replica moves thousands of times while the readers read.
        maxMessagesPerTransaction: 1,
        queryWorkers: 3,
        queryTimeout: '2s',
        minSequenceMaxWait: '20s',
        verifyThreads: 0,
      },
      { logger: createLogger({ json: true, level: 'warn', write: (l) => lines.push(l) }) },
    );
    onCleanup(() => validator.stop());
    expect(validator.query).not.toBeNull();

    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${validator.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { res, json: (await res.json()) as Record<string, unknown> };
    };

    // A reader that asks for the head waits until the replica has it.
    const waiting = post('/query', { sql: 'SELECT count(*) FROM transfers', min_sequence: head });

    const bySequence = new Map<string, string>();
    const failures: string[] = [];
    let answers = 0;
    const reader = async () => {
      let last = -1;
      while (validator.status().lastSequence !== BigInt(head) || answers < 30) {
        // min_sequence 0: the schema arrives with the first message (a snapshot).
        const { res, json } = await post('/query', { sql: BOOKS_SQL, min_sequence: 0 });
        if (res.status !== 200) {
          failures.push(`${res.status} ${JSON.stringify(json)}`);
          continue;
        }
        answers++;
        const sequence = json.sequence as number;
        expect(String(sequence)).toBe(res.headers.get('x-syndDB-sequence'));
        expect(sequence).toBeGreaterThanOrEqual(last);
        last = sequence;
        const rows = json.rows as number[][];
        const [unbalanced, accounts, , total] = rows[0]!;
        expect(unbalanced).toBe(0);
        if (accounts === ACCOUNTS) expect(total).toBe(Number(INITIAL) * ACCOUNTS);
        const text = JSON.stringify(rows);
        const seen = bySequence.get(String(sequence));
        if (seen !== undefined) expect(text).toBe(seen);
        bySequence.set(String(sequence), text);
      }
    };
    await Promise.all([reader(), reader(), reader(), reader()]);
    expect(failures).toEqual([]);
    expect(bySequence.size).toBeGreaterThan(10);

    const waited = await waiting;
    expect(waited.res.status).toBe(200);
    expect(waited.json.sequence).toBeGreaterThanOrEqual(head);
    expect(waited.json.rows).toEqual([
      [Number(app.db.prepare('SELECT count(*) AS n FROM transfers').get()!.n)],
    ]);

    const late = await post('/query', {
      sql: 'SELECT 1',
      min_sequence: head + 1000,
      timeout_ms: 200,
    });
    expect(late.res.status).toBe(504);
    expect(late.json.code).toBe('MIN_SEQUENCE_TIMEOUT');

    for (const [sql, code] of [
      ['UPDATE accounts SET balance = balance + 1', 'QUERY_READ_ONLY'],
      [
        "INSERT INTO transfers (from_account, to_account, amount, reference, created_at) VALUES (1, 2, 1, x'00', 0)",
        'QUERY_READ_ONLY',
      ],
      ['DROP TABLE accounts', 'QUERY_READ_ONLY'],
      ["ATTACH DATABASE 'x.db' AS x", 'QUERY_READ_ONLY'],
      ['PRAGMA journal_mode = DELETE', 'QUERY_NOT_ALLOWED'],
      ['SELECT last_sequence FROM _synddb_cursor', 'QUERY_INTERNAL_TABLE'],
      ['SELECT * FROM _synddb_outbox', 'QUERY_INTERNAL_TABLE'],
      ['SELECT 1; DELETE FROM accounts', 'QUERY_MULTIPLE_STATEMENTS'],
    ] as const) {
      const { res, json } = await post('/query', { sql });
      expect([res.status, json.code], sql).toEqual([403, code]);
    }
    const unchanged = await post('/query', { sql: 'SELECT sum(balance) FROM accounts' });
    expect(unchanged.json.rows).toEqual([[Number(INITIAL) * ACCOUNTS]]);

    const rpc = await post('/rpc', [
      { jsonrpc: '2.0', id: 1, method: 'synddb_status' },
      { jsonrpc: '2.0', id: 2, method: 'synddb_query', params: ['SELECT count(*) FROM accounts'] },
    ]);
    const [status, count] = rpc.json as unknown as { result: Record<string, unknown> }[];
    expect(status!.result).toMatchObject({ last_sequence: head, state: 'caught_up' });
    expect(count!.result).toMatchObject({ rows: [[ACCOUNTS]], sequence: head });

    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^synddb_query_latency_seconds_count\{endpoint="\/query",outcome="ok"\} [1-9]\d*$/m,
    );
    expect(lines.filter((l) => /busy|locked/i.test(l))).toEqual([]);
  });
});
