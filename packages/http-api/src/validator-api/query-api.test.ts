import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createQueryService, type QueryService } from '@synddb/query';
import type { SyncStatus } from '@synddb/sync';
import { onCleanup, tempDir } from '@synddb/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { caughtUpSyncStatus } from '../../test/sync-status';
import { createRateLimiter } from '../limits/rate-limiter';
import { createValidatorMetrics } from '../metrics/create-validator-metrics';
import { serveValidatorApi } from '../serve/serve-validator-api';
import { type CreateValidatorApiOptions, createValidatorApi } from './create-validator-api';

const status: SyncStatus = caughtUpSyncStatus();

let service: QueryService;
const metrics = createValidatorMetrics();

beforeAll(async () => {
  const path = join(tempDir('query-api-', { scope: 'file' }), 'replica.db');
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL);
    INSERT INTO _synddb_cursor VALUES (1, 7);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v);
    INSERT INTO kv VALUES ('a', 1), ('b', 12345678901234567890 / 1), ('c', x'cafe');
  `);
  db.close();
  service = createQueryService({
    databasePath: path,
    workers: 1,
    timeoutMs: 5000, // the timeout case below passes its own limit
    maxRows: 10,
    metrics,
    // The replica stays at 7, as the cursor row says; the validator wires its engine here, so a
    // min_sequence wait never depends on how fast a loaded machine runs the re-queries.
    sequence: { lastSequence: () => 7n, onApplied: () => () => {} },
  });
  onCleanup(() => service.close(), { scope: 'file' });
  await service.ready();
});

async function start(options: Partial<CreateValidatorApiOptions> = {}) {
  const app = createValidatorApi({ status: () => status, metrics, query: service, ...options });
  const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  onCleanup(() => served.close());
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${served.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { url: served.url, post };
}

describe('POST/GET /query', () => {
  it('answers columns, rows and the sequence in body and header', async () => {
    const { url, post } = await start();
    const res = await post('/query', {
      sql: 'SELECT k, v FROM kv WHERE k <> ? ORDER BY k',
      params: ['b'],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-syndDB-sequence')).toBe('7');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({
      columns: ['k', 'v'],
      rows: [
        ['a', 1],
        ['c', '0xcafe'],
      ],
      sequence: 7,
    });
    const get = await fetch(
      `${url}/query?sql=${encodeURIComponent('SELECT v FROM kv WHERE k = ?')}&params=${encodeURIComponent('["a"]')}&min_sequence=7&timeout_ms=3000`,
    );
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ columns: ['v'], rows: [[1]], sequence: 7 });
  });

  it('maps refusals, SQL errors, limits and timeouts to statuses and codes', async () => {
    const { post } = await start();
    const cases: [unknown, number, string][] = [
      [{ sql: 'DELETE FROM kv' }, 403, 'QUERY_READ_ONLY'],
      [{ sql: 'SELECT * FROM _synddb_cursor' }, 403, 'QUERY_INTERNAL_TABLE'],
      [{ sql: 'SELECT 1; SELECT 2' }, 403, 'QUERY_MULTIPLE_STATEMENTS'],
      [{ sql: 'SELECT nope FROM kv' }, 400, 'QUERY_SQL'],
      [
        {
          sql: 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 11) SELECT x FROM n',
        },
        422,
        'QUERY_ROW_LIMIT',
      ],
      [
        {
          sql: 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n) SELECT count(*) FROM n',
          timeout_ms: 300,
        },
        504,
        'QUERY_TIMEOUT',
      ],
      [{ sql: 'SELECT 1', min_sequence: 8, timeout_ms: 500 }, 504, 'MIN_SEQUENCE_TIMEOUT'],
      [{ sql: 'SELECT 1', extra: true }, 400, 'INVALID_REQUEST'],
      [{ sql: '' }, 400, 'INVALID_REQUEST'],
      [{ sql: 'SELECT ?', params: [{ nested: 1 }] }, 400, 'INVALID_REQUEST'],
      [{ sql: 'SELECT 1', min_sequence: -1 }, 400, 'INVALID_REQUEST'],
      ['{"sql": ', 400, 'INVALID_JSON'],
    ];
    for (const [body, statusCode, code] of cases) {
      const res = await post('/query', body);
      expect(
        [res.status, ((await res.json()) as { code: string }).code],
        JSON.stringify(body),
      ).toEqual([statusCode, code]);
      // The timed-out statement's worker was killed. The next case has a 500 ms limit, queue wait
      // included: let the replacement (tsx from sources, slow on a loaded machine) start first.
      if (code === 'QUERY_TIMEOUT') await service.ready();
    }
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).toMatch(
      /synddb_query_latency_seconds_count\{endpoint="\/query",outcome="ok"\} [1-9]/,
    );
    expect(metricsText).toMatch(
      /synddb_query_latency_seconds_count\{endpoint="\/query",outcome="timeout"\} [1-9]/,
    );
  });
});

describe('POST /rpc', () => {
  const rpc = async (post: (p: string, b: unknown) => Promise<Response>, body: unknown) => {
    const res = await post('/rpc', body);
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };

  it('answers synddb_query and synddb_status, single and batched, in order', async () => {
    const { post } = await start();
    expect(
      await rpc(post, {
        jsonrpc: '2.0',
        id: 1,
        method: 'synddb_query',
        params: { sql: 'SELECT 1 AS one' },
      }),
    ).toEqual({
      status: 200,
      body: { jsonrpc: '2.0', id: 1, result: { columns: ['one'], rows: [[1]], sequence: 7 } },
    });
    const batch = await rpc(post, [
      {
        jsonrpc: '2.0',
        id: 'a',
        method: 'synddb_query',
        params: ['SELECT v FROM kv WHERE k = ?', ['c']],
      },
      { jsonrpc: '2.0', method: 'synddb_status' },
      { jsonrpc: '2.0', id: 'b', method: 'synddb_status' },
      { jsonrpc: '2.0', id: 'c', method: 'synddb_query', params: { sql: 'DROP TABLE kv' } },
      { jsonrpc: '2.0', id: 'd', method: 'synddb_getSignature', params: ['0x00'] },
      { jsonrpc: '2.0', id: 'e', method: 'synddb_query', params: { sqlx: 1 } },
      { jsonrpc: '1.0', id: 'f', method: 'synddb_status' },
      7,
    ]);
    expect(batch.status).toBe(200);
    const answers = batch.body as {
      id: unknown;
      result?: unknown;
      error?: { code: number; data?: unknown };
    }[];
    expect(answers.map((a) => a.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', null]);
    expect(answers[0]!.result).toEqual({ columns: ['v'], rows: [['0xcafe']], sequence: 7 });
    expect(answers[1]!.result).toMatchObject({ last_sequence: 7, state: 'caught_up', ready: true });
    expect(answers[2]!.error).toMatchObject({
      code: -32000,
      data: { code: 'QUERY_READ_ONLY', sequence: '7' },
    });
    expect(answers[3]!.error?.code).toBe(-32601);
    expect(answers[4]!.error?.code).toBe(-32602);
    expect(answers[5]!.error?.code).toBe(-32600);
    expect(answers[6]!.error?.code).toBe(-32600);
  });

  it('uses the standard codes for parse errors, empty batches and notifications', async () => {
    const { post } = await start();
    expect((await rpc(post, '{"jsonrpc":')).body).toMatchObject({
      id: null,
      error: { code: -32700 },
    });
    expect((await rpc(post, [])).body).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await rpc(post, 'null')).body).toMatchObject({ id: null, error: { code: -32600 } });
    expect(await rpc(post, [{ jsonrpc: '2.0', method: 'synddb_status' }])).toEqual({
      status: 204,
      body: null,
    });
    const tooMany = Array.from({ length: 101 }, (_, i) => ({
      jsonrpc: '2.0',
      id: i,
      method: 'synddb_status',
    }));
    expect((await rpc(post, tooMany)).body).toMatchObject({ error: { code: -32600 } });
    const timeout = await rpc(post, {
      jsonrpc: '2.0',
      id: 9,
      method: 'synddb_query',
      params: {
        sql: 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n) SELECT count(*) FROM n',
        timeout_ms: 50,
      },
    });
    expect(timeout.body).toMatchObject({
      id: 9,
      error: { code: -32001, data: { code: 'QUERY_TIMEOUT' } },
    });
  });

  it('answers method not found for synddb_query when queries are off', async () => {
    const { post } = await start({ query: undefined });
    const r = await rpc(post, {
      jsonrpc: '2.0',
      id: 1,
      method: 'synddb_query',
      params: { sql: 'SELECT 1' },
    });
    expect(r.body).toMatchObject({ error: { code: -32601 } });
    const { url } = await start({ query: undefined });
    expect((await fetch(`${url}/query?sql=SELECT+1`)).status).toBe(404);
  });
});

describe('limits, CORS and /openapi.json', () => {
  it('rate limits per client with 429 and Retry-After, never the probes', async () => {
    let now = 0;
    const rateLimit = createRateLimiter({ ratePerSecond: 1, burst: 3, now: () => now });
    const { url, post } = await start({ rateLimit });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post('/query', { sql: 'SELECT 1' })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await fetch(`${url}/status`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toEqual({ error: 'rate limit exceeded', code: 'RATE_LIMITED' });
    for (const probe of ['/health', '/ready', '/metrics']) {
      expect((await fetch(`${url}${probe}`)).status).toBe(200);
    }
    now += 500; // half a token at 1 per second: still limited
    expect((await post('/query', { sql: 'SELECT 1' })).status).toBe(429);
    now += 1500; // two tokens
    expect((await post('/query', { sql: 'SELECT 1' })).status).toBe(200);
    expect((await post('/query', { sql: 'SELECT 1' })).status).toBe(200);
    expect((await post('/query', { sql: 'SELECT 1' })).status).toBe(429);
  });

  it('refuses bodies over the limit with 413 (declared or chunked)', async () => {
    const { post, url } = await start({ maxBodyBytes: 1024 });
    const big = { sql: `SELECT '${'x'.repeat(2000)}'` };
    const res = await post('/query', big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
        controller.close();
      },
    });
    const chunked = await fetch(`${url}/rpc`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await post('/query', { sql: 'SELECT 1' })).status).toBe(200);
  });

  it('sends CORS headers for allowed origins only', async () => {
    const { url } = await start({ corsOrigins: ['https://app.example'] });
    const allowed = await fetch(`${url}/query`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const res = await fetch(`${url}/status`, { headers: { origin: 'https://app.example' } });
    expect(res.headers.get('access-control-expose-headers')).toMatch(/X-SyndDB-Sequence/i);
    const other = await fetch(`${url}/status`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(() =>
      createValidatorApi({ status: () => status, metrics, corsOrigins: ['https://x/path'] }),
    ).toThrow(/CORS/);
  });

  it('serves /openapi.json built from the request schemas', async () => {
    const { url } = await start();
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { parameters?: { name: string }[]; requestBody?: unknown }>
      >;
      components: {
        schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
      };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/health',
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/query',
        '/ready',
        '/rpc',
        '/status',
      ].sort(),
    );
    expect(doc.paths['/query']!.post!.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/QueryRequest' } } },
    });
    expect(doc.paths['/query']!.get!.parameters!.map((p) => p.name)).toEqual([
      'sql',
      'params',
      'min_sequence',
      'timeout_ms',
    ]);
    const request = doc.components.schemas.QueryRequest!;
    expect(Object.keys(request.properties ?? {})).toEqual([
      'sql',
      'params',
      'min_sequence',
      'timeout_ms',
    ]);
    expect(request.required).toEqual(['sql']);
    expect(request).toMatchObject({ additionalProperties: false });
    for (const id of [
      'QueryResponse',
      'ErrorResponse',
      'JsonRpcBody',
      'JsonRpcRequest',
      'JsonRpcResponse',
      'Status',
    ]) {
      expect(doc.components.schemas[id], id).toBeDefined();
    }
    // Every $ref resolves.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const id = ref.slice('"$ref":"#/components/schemas/'.length, -1);
      expect(doc.components.schemas[id], ref).toBeDefined();
    }
  });
});
