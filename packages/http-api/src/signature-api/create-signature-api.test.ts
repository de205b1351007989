import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpApiConfigError } from '../errors';
import { type ServedApi, serveValidatorApi } from '../serve/serve-validator-api';
import {
  createSignatureApi,
  type MessageSignature,
  type SignatureApiOptions,
} from './create-signature-api';

const SIGNER = '0x00000000000000000000000000000000000000aa';
const BRIDGE = '0x00000000000000000000000000000000000000bb';

function id(n: number): string {
  return `0x${n.toString(16).padStart(64, '0')}`;
}

function signature(n: number): MessageSignature {
  return {
    message_id: id(n),
    signature: `0x${'11'.repeat(64)}${n % 2 === 0 ? '1b' : '1c'}`,
    signer: SIGNER,
    signed_at: 1_700_000_000 + n,
  };
}

/** An in-memory store in signing order, recording every call the API makes. */
function store(n: number) {
  const entries = Array.from({ length: n }, (_, i) => signature(i + 1));
  const byId = new Map(entries.map((s) => [s.message_id, s]));
  const gets: string[] = [];
  const lists: [number, number][] = [];
  return {
    entries,
    gets,
    lists,
    get: (messageId: string) => {
      gets.push(messageId);
      return byId.get(messageId) ?? null;
    },
    list: (limit: number, offset: number) => {
      lists.push([limit, offset]);
      return entries.slice(offset, offset + limit);
    },
    count: () => entries.length,
  };
}

function api(
  n: number,
  extra: Partial<SignatureApiOptions> & { chainId?: bigint | number; info?: never } = {},
) {
  const s = store(n);
  const { chainId = 31337n, ...rest } = extra;
  const responses: { method: string; path: string; status: number; ms: number }[] = [];
  const app = createSignatureApi({
    info: () => ({
      signer: SIGNER.toUpperCase().replace('0X', '0x'),
      bridgeContract: BRIDGE,
      chainId,
    }),
    get: s.get,
    list: s.list,
    count: s.count,
    onResponse: (r) => responses.push(r),
    ...rest,
  });
  const request = async (path: string, init?: RequestInit) => {
    const res = await app.request(path, init);
    const text = await res.text();
    return { res, status: res.status, text, json: () => JSON.parse(text) as unknown };
  };
  return { app, store: s, request, responses };
}

const servers: ServedApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Sends a request line as written (no client-side URL normalization) and returns the response. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('createSignatureApi over real HTTP', () => {
  it('serves every route with the reference shapes', async () => {
    const { app, store: s, responses } = api(3);
    const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
    servers.push(served);
    const get = async (path: string) => {
      const res = await fetch(`${served.url}${path}`);
      return { status: res.status, text: await res.text(), res };
    };

    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(health.text).toBe('{"status":"healthy"}');
    expect(health.res.headers.get('content-type')).toMatch(/^application\/json/);

    const info = await get('/info');
    expect(info.status).toBe(200);
    expect(info.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(info.text).toBe(`{"signer":"${SIGNER}","bridge_contract":"${BRIDGE}","chain_id":31337}`);

    const pending = await get('/pending');
    expect(pending.status).toBe(200);
    expect(JSON.parse(pending.text)).toEqual({ count: 3, message_ids: [id(1), id(2), id(3)] });

    const all = await get('/signatures');
    expect(all.status).toBe(200);
    expect(JSON.parse(all.text)).toEqual(s.entries);

    const one = await get(`/signature/${id(2)}`);
    expect(one.status).toBe(200);
    expect(one.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(one.text)).toEqual({
      message_id: id(2),
      signature: `0x${'11'.repeat(64)}1b`,
      signer: SIGNER,
      signed_at: 1_700_000_002,
    });
    expect(Object.keys(JSON.parse(one.text) as object)).toEqual([
      'message_id',
      'signature',
      'signer',
      'signed_at',
    ]);

    const missing = await get(`/signature/${id(9)}`);
    expect(missing.status).toBe(404);
    expect(missing.text).toBe('null');
    expect(missing.res.headers.get('content-type')).toMatch(/^application\/json/);

    expect(responses.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/health', 200],
      ['GET', '/info', 200],
      ['GET', '/pending', 200],
      ['GET', '/signatures', 200],
      ['GET', `/signature/${id(2)}`, 200],
      ['GET', `/signature/${id(9)}`, 404],
    ]);
    expect(responses.every((r) => r.ms >= 0 && r.ms < 10_000)).toBe(true);
  });

  it('answers null for junk ids sent raw, without calling get', async () => {
    const { app, store: s } = api(3);
    const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
    servers.push(served);
    for (const path of [
      `/signature/${'0'.repeat(63)}1/extra`,
      '/signature/..%2F..%2Fetc%2Fpasswd',
      `/signature/${id(1)}%00`,
      `/signature/${'f'.repeat(5000)}`,
    ]) {
      const response = await rawGet(served.port, path);
      expect(response, path).toMatch(/^HTTP\/1\.1 404 /);
      expect(response.endsWith('\r\n\r\nnull'), path).toBe(true);
    }
    // Dot segments (also encoded ones) are resolved by URL parsing before routing: this is `/<id>`.
    const dotted = await rawGet(served.port, `/signature/%2E%2E/${id(1).slice(2)}`);
    expect(dotted).toMatch(/^HTTP\/1\.1 404 /);
    expect(dotted).toContain('"code":"NOT_FOUND"');
    expect(s.gets).toEqual([]);
  });
});

describe('GET /signature/{message_id}', () => {
  it('is case-insensitive and prepends a missing 0x', async () => {
    const { request, store: s } = api(3);
    const upper = `0x${id(3).slice(2).toUpperCase()}`;
    const found = [
      await request(`/signature/${upper}`),
      await request(`/signature/${id(3).slice(2)}`),
      await request(`/signature/${upper.slice(2)}`),
      await request(`/signature/0X${id(3).slice(2)}`),
      await request(`/signature/%30x${id(3).slice(2)}`),
    ];
    for (const r of found) {
      expect(r.status).toBe(200);
      expect((r.json() as MessageSignature).message_id).toBe(id(3));
    }
    expect(s.gets).toEqual(Array(found.length).fill(id(3)));
  });

  it.each([
    ['empty', '/signature/'],
    ['no id', '/signature'],
    ['too short', `/signature/${id(1).slice(0, 65)}`],
    ['too long', `/signature/${id(1)}0`],
    ['non-hex', `/signature/0x${'z'.repeat(64)}`],
    ['two segments', `/signature/${id(1)}/${id(1)}`],
    ['encoded slash', `/signature/${id(1).slice(0, 34)}%2F${id(1).slice(35)}`],
    ['traversal', '/signature/..%2F..%2Fhealth'],
    ['bad escape', `/signature/%zz${id(1).slice(4)}`],
    ['double encoding', `/signature/%2530x${id(1).slice(2)}`],
    ['query-like', `/signature/${id(1).slice(0, 40)}%3Fx=1`],
    ['whitespace', `/signature/%20${id(1)}`],
  ])('answers 404 null for %s and never calls get', async (_name, path) => {
    const { request, store: s } = api(3);
    const r = await request(path);
    expect(r.status).toBe(404);
    expect(r.text).toBe('null');
    expect(s.gets).toEqual([]);
  });

  it('returns only the documented fields', async () => {
    const extra = { ...signature(1), secret: 'x' } as MessageSignature;
    const { request } = api(0, { get: () => extra });
    const r = await request(`/signature/${id(1)}`);
    expect(r.json()).toEqual(signature(1));
  });
});

describe('paging', () => {
  it('pages /pending and /signatures with offset and limit', async () => {
    const { request, store: s } = api(10);
    const page = await request('/signatures?offset=3&limit=4');
    expect(page.status).toBe(200);
    expect(page.json()).toEqual(s.entries.slice(3, 7));
    const pending = await request('/pending?offset=8&limit=5');
    expect(pending.json()).toEqual({ count: 10, message_ids: [id(9), id(10)] });
    const past = await request('/pending?offset=100');
    expect(past.json()).toEqual({ count: 10, message_ids: [] });
    const none = await request('/signatures?limit=0');
    expect(none.json()).toEqual([]);
    expect(s.lists).toEqual([
      [4, 3],
      [5, 8],
      [10_000, 100],
    ]);
  });

  it('caps each response at maxList and still counts everything', async () => {
    const { request, store: s } = api(25, { maxList: 10 });
    const pending = await request('/pending');
    expect(pending.json()).toEqual({
      count: 25,
      message_ids: s.entries.slice(0, 10).map((e) => e.message_id),
    });
    const big = await request('/signatures?offset=20&limit=1000');
    expect(big.json()).toEqual(s.entries.slice(20, 25));
    const all = await request('/signatures');
    expect((all.json() as unknown[]).length).toBe(10);
    expect(s.lists).toEqual([
      [10, 0],
      [10, 20],
      [10, 0],
    ]);
  });

  it('caps even when the store returns more than asked', async () => {
    const many = Array.from({ length: 50 }, (_, i) => signature(i));
    const { request } = api(0, { maxList: 5, list: () => many, count: () => 50 });
    expect(((await request('/signatures')).json() as unknown[]).length).toBe(5);
    expect((await request('/pending?limit=2')).json()).toEqual({
      count: 50,
      message_ids: [id(0), id(1)],
    });
  });

  it.each([
    'offset=-1',
    'limit=-5',
    'limit=abc',
    'offset=1.5',
    'limit=1e3',
    'offset=',
    'limit=0x10',
    'offset=99999999999999999',
    `limit=${'9'.repeat(1000)}`,
    'limit=1&limit=2',
    'offset=%201',
  ])('answers 400 for ?%s', async (query) => {
    const { request, store: s } = api(3);
    for (const path of ['/pending', '/signatures']) {
      const r = await request(`${path}?${query}`);
      expect(r.status).toBe(400);
      expect(r.json()).toEqual({
        error: expect.stringMatching(/^invalid request: (offset|limit) must be/),
        code: 'INVALID_REQUEST',
      });
    }
    expect(s.lists).toEqual([]);
  });

  it('rejects a maxList that is not a positive integer', () => {
    for (const maxList of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => api(0, { maxList })).toThrow(HttpApiConfigError);
    }
  });
});

describe('GET /info', () => {
  it('writes a chain id above 2^53 exactly as a JSON number', async () => {
    const big = 18_446_744_073_709_551_615n; // u64 max
    const { request } = api(0, { chainId: big });
    const r = await request('/info');
    expect(r.status).toBe(200);
    expect(r.text).toBe(
      `{"signer":"${SIGNER}","bridge_contract":"${BRIDGE}","chain_id":18446744073709551615}`,
    );
    const odd = await api(0, { chainId: 9_007_199_254_740_993n }).request('/info');
    expect(odd.text).toContain('"chain_id":9007199254740993}');
    const num = await api(0, { chainId: 1 }).request('/info');
    expect(JSON.parse(num.text)).toEqual({ signer: SIGNER, bridge_contract: BRIDGE, chain_id: 1 });
  });

  it.each([
    ['negative chain id', { chainId: -1n }],
    ['chain id above u64', { chainId: 1n << 64n }],
    ['fractional chain id', { chainId: 1.5 }],
  ])('answers 500 for a %s', async (_name, extra) => {
    const r = await api(0, extra).request('/info');
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({ error: 'the signer info is invalid', code: 'SIGNER_INFO_INVALID' });
  });

  it('answers 500 for a malformed address', async () => {
    const s = store(0);
    const app = createSignatureApi({
      ...s,
      info: () => ({ signer: '0x1234', bridgeContract: BRIDGE, chainId: 1 }),
    });
    const r = await app.request('/info');
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({ code: 'SIGNER_INFO_INVALID' });
  });
});

describe('other requests', () => {
  it('answers 404 JSON for unknown paths and 405 for wrong methods', async () => {
    const { request, store: s, responses } = api(3);
    for (const path of ['/', '/nope', '/health/', '/signatures/x', '/metrics']) {
      const r = await request(path);
      expect(r.status, path).toBe(404);
      expect(r.json()).toEqual({ error: 'not found', code: 'NOT_FOUND' });
    }
    for (const [method, path] of [
      ['POST', '/health'],
      ['PUT', '/info'],
      ['DELETE', `/signature/${id(1)}`],
      ['POST', '/signatures'],
      ['PATCH', '/pending'],
      ['OPTIONS', '/info'],
    ] as const) {
      const r = await request(path, { method, body: method === 'OPTIONS' ? null : '{}' });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.res.headers.get('allow')).toBe('GET, HEAD');
      expect(r.json()).toEqual({ error: 'method not allowed', code: 'METHOD_NOT_ALLOWED' });
    }
    expect(s.gets).toEqual([]);
    const head = await request(`/signature/${id(1)}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(responses.every((r) => r.status >= 200)).toBe(true);
  });

  it('marks responses no-store and turns store failures into 500 INTERNAL', async () => {
    const { request } = api(0, {
      count: () => {
        throw new Error('disk on fire');
      },
    });
    const ok = await request('/health');
    expect(ok.res.headers.get('cache-control')).toBe('no-store');
    const r = await request('/pending');
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({ error: 'internal error', code: 'INTERNAL' });
    expect(r.text).not.toContain('disk');
  });
});
