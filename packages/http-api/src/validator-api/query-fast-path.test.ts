// The `POST /query` fast path gives the answers Hono's route gives: the same app served twice,
// with and without it, compared on the wire (status line, headers, body) request by request.
import { connect } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createQueryMetrics, createQueryService, type QueryService } from '@synddb/query';
import type { SyncStatus } from '@synddb/sync';
import { onCleanup, tempDir } from '@synddb/test-support';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { caughtUpSyncStatus } from '../../test/sync-status';
import { createConnectionLimits } from '../serve/connection-limits';
import { serveValidatorApi } from '../serve/serve-validator-api';
import {
  type CreateValidatorApiOptions,
  createValidatorApi,
  type ResponseInfo,
} from './create-validator-api';
import { createHttpMetrics } from './http-metrics';

const status: SyncStatus = caughtUpSyncStatus();

let service: QueryService;

beforeAll(async () => {
  const path = join(tempDir('query-fast-path-', { scope: 'file' }), 'replica.db');
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA journal_mode = WAL;
    CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL);
    INSERT INTO _synddb_cursor VALUES (1, 7);
    CREATE TABLE kv (k TEXT PRIMARY KEY, v);
    INSERT INTO kv VALUES ('a', 1), ('b', 'two'), ('c', x'cafe');
  `);
  db.close();
  service = createQueryService({
    databasePath: path,
    workers: 1,
    timeoutMs: 5000,
    maxRows: 2,
    minSequenceMaxWaitMs: 50,
    metrics: createQueryMetrics(new Registry()),
    sequence: { lastSequence: () => 7n, onApplied: () => () => {} },
  });
  onCleanup(() => service.close(), { scope: 'file' });
  await service.ready();
});

interface Wire {
  status: string;
  headers: Map<string, string>;
  body: string;
}

/** One request on its own connection, raw bytes in and out. */
function raw(url: string, request: string): Promise<Wire> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = text.slice(0, end).split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
      }
      const length = Number(headers.get('content-length') ?? Number.NaN);
      const body = Buffer.concat(chunks).subarray(
        Buffer.byteLength(text.slice(0, end + 4), 'latin1'),
      );
      if (body.length < length) return;
      socket.destroy();
      resolve({ status: lines[0] ?? '', headers, body: body.toString('utf8') });
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

const post = (body: string, headers: Record<string, string> = {}) =>
  `POST /query HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const chunked = (body: string) =>
  `POST /query HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;

async function pair(options: Partial<CreateValidatorApiOptions> = {}) {
  const make = async (fastPaths: boolean) => {
    const registry = new Registry();
    const responses: ResponseInfo[] = [];
    const metrics = { registry, ...createHttpMetrics(registry), observeStatus: () => {} };
    const app = createValidatorApi({
      status: () => status,
      metrics,
      query: service,
      onResponse: (r) => responses.push(r),
      ...options,
    });
    // Requests that reach Hono: none of the fast server's `POST /query`.
    const seen = { hono: 0 };
    const fetch = app.fetch;
    app.fetch = (...args) => {
      seen.hono++;
      return fetch(...args);
    };
    const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0', fastPaths });
    onCleanup(() => served.close());
    return { url: served.url, registry, responses, seen };
  };
  return { fast: await make(true), hono: await make(false) };
}

const VOLATILE = new Set(['date', 'x-request-id']);
function comparable(w: Wire) {
  const headers = [...w.headers].filter(([k]) => !VOLATILE.has(k)).sort();
  return { status: w.status, headers, body: w.body };
}

async function same(request: string, options: Partial<CreateValidatorApiOptions> = {}) {
  const { fast, hono } = await pair(options);
  const a = await raw(fast.url, request);
  const b = await raw(hono.url, request);
  expect(comparable(a)).toEqual(comparable(b));
  return { fast: a, hono: b, servers: { fast, hono } };
}

describe('POST /query fast path', () => {
  it('answers a query exactly as the Hono route does', async () => {
    const { fast, servers } = await same(
      post('{"sql":"SELECT k, v FROM kv WHERE k = ?","params":["a"]}'),
    );
    expect(servers.fast.seen.hono).toBe(0);
    expect(servers.hono.seen.hono).toBe(1);
    expect(fast.status).toBe('HTTP/1.1 200 OK');
    expect(fast.body).toBe('{"columns":["k","v"],"rows":[["a",1]],"sequence":7}');
    expect(fast.headers.get('x-syndDB-sequence'.toLowerCase())).toBe('7');
    expect(fast.headers.get('cache-control')).toBe('no-store');
    expect(fast.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['invalid JSON', post('{"sql":'), 400],
    ['a body that fails the schema', post('{"sql":"SELECT 1","extra":1}'), 400],
    ['a write statement', post('{"sql":"DELETE FROM kv"}'), 403],
    ['SQL that does not compile', post('{"sql":"SELEC 1"}'), 400],
    ['too many rows', post('{"sql":"SELECT * FROM kv"}'), 422],
    ['a min_sequence never reached', post('{"sql":"SELECT 1","min_sequence":99}'), 504],
    ['a chunked body', chunked('{"sql":"SELECT 2 AS two"}'), 200],
  ])('answers %s exactly as the Hono route does', async (_name, request, code) => {
    const { fast } = await same(request);
    expect(fast.status.slice(9, 12)).toBe(String(code));
  });

  it('refuses bodies over the limit, declared or streamed, as the Hono route does', async () => {
    const big = `{"sql":"SELECT '${'x'.repeat(300)}'"}`;
    for (const request of [post(big), chunked(big)]) {
      const { fast } = await same(request, { maxBodyBytes: 100 });
      expect(fast.status.slice(9, 12)).toBe('413');
      expect(JSON.parse(fast.body).code).toBe('BODY_TOO_LARGE');
    }
  });

  it('keeps a well-formed client x-request-id and replaces one that is not', async () => {
    const { fast, hono } = await same(post('{"sql":"SELECT 1"}', { 'x-request-id': 'abc-123=' }));
    expect(fast.headers.get('x-request-id')).toBe('abc-123=');
    expect(hono.headers.get('x-request-id')).toBe('abc-123=');
    const bad = await same(post('{"sql":"SELECT 1"}', { 'x-request-id': 'a b' }));
    expect(bad.fast.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rate limits as the Hono route does, and counts the same metrics', async () => {
    const { fast, hono } = await pair({ rateLimit: { ratePerSecond: 1, burst: 1 } });
    const request = post('{"sql":"SELECT 1"}');
    for (const s of [fast, hono]) {
      expect((await raw(s.url, request)).status.slice(9, 12)).toBe('200');
    }
    const a = await raw(fast.url, request);
    const b = await raw(hono.url, request);
    expect(comparable(a)).toEqual(comparable(b));
    expect(a.status.slice(9, 12)).toBe('429');
    expect(a.headers.get('retry-after')).toBe('1');
    const counts = async (r: Registry) =>
      (await r.getSingleMetric('axum_http_requests_total')?.get())?.values;
    expect(await counts(fast.registry)).toEqual(await counts(hono.registry));
    const histogram = async (r: Registry) =>
      (await r.getSingleMetric('axum_http_requests_duration_seconds')?.get())?.values.filter((v) =>
        (v as { metricName?: string }).metricName?.endsWith('_count'),
      );
    expect(await histogram(fast.registry)).toEqual(await histogram(hono.registry));
    expect(fast.responses.map((r) => [r.method, r.path, r.status])).toEqual(
      hono.responses.map((r) => [r.method, r.path, r.status]),
    );
  });

  it('answers OUTPUT_BUSY as the Hono route does when the client holds unread output', async () => {
    const { fast, hono } = await pair({
      connectionLimits: {
        ...createConnectionLimits({ maxOutputPerClient: 1 << 24, maxOutputTotal: 1 << 24 }),
        outputHeadroom: () => 0,
      },
    });
    const request = post('{"sql":"SELECT 1"}');
    const a = await raw(fast.url, request);
    const b = await raw(hono.url, request);
    expect(a.status.slice(9, 12)).toBe('429');
    expect(comparable(a)).toEqual(comparable(b));
  });

  it('leaves requests with an Origin to Hono when CORS is on', async () => {
    const { fast, servers } = await same(
      post('{"sql":"SELECT 1"}', { origin: 'http://app.example' }),
      { corsOrigins: ['http://app.example'] },
    );
    expect(servers.fast.seen.hono).toBe(1);
    expect(fast.headers.get('access-control-allow-origin')).toBe('http://app.example');
  });
});
