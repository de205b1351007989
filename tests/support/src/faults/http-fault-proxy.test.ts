import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../cleanup/on-cleanup';
import { startTestHttpServer, type TestHttpServer } from '../http/start-test-http-server';
import { waitFor } from '../wait/wait-for';
import {
  FaultProxyConfigError,
  type HttpFaultProxy,
  startHttpFaultProxy,
} from './start-http-fault-proxy';

/** A batch-sized body whose every cut is visible. */
const BLOB = Uint8Array.from({ length: 2048 }, (_, i) => (i * 31) & 0xff);
const LISTING = '[{"start_sequence":0,"end_sequence":2}]';

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A sequencer-like upstream and a proxy in front of it. */
async function proxied(): Promise<{ upstream: TestHttpServer; proxy: HttpFaultProxy }> {
  const upstream = await startTestHttpServer(async (req, res) => {
    if (req.url === '/storage/batches')
      return res.writeHead(200, { 'content-type': 'application/json' }).end(LISTING);
    if (req.url === '/storage/batches/0')
      return res.writeHead(200, { 'content-type': 'application/cbor+zstd' }).end(BLOB);
    if (req.method === 'POST') {
      const body = await readBody(req);
      return res.writeHead(201, { 'x-echo': req.url ?? '' }).end(body);
    }
    return res.writeHead(404).end();
  });
  onCleanup(() => upstream.close());
  const proxy = await startHttpFaultProxy({ upstream: upstream.url, log: () => undefined });
  onCleanup(() => proxy.close());
  return { upstream, proxy };
}

/** Reads a body chunk by chunk: the bytes and how many reads it took. */
async function readChunks(response: Response): Promise<{ bytes: Uint8Array; reads: number }> {
  const reader = response.body!.getReader();
  const parts: Uint8Array[] = [];
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    reads++;
    parts.push(value);
  }
  return { bytes: new Uint8Array(Buffer.concat(parts)), reads };
}

describe('startHttpFaultProxy', () => {
  it('passes requests and responses through unchanged while no rule is set', async () => {
    const { upstream, proxy } = await proxied();
    const batch = await fetch(`${proxy.url}/storage/batches/0`);
    expect(batch.status).toBe(200);
    expect(batch.headers.get('content-type')).toBe('application/cbor+zstd');
    expect(new Uint8Array(await batch.arrayBuffer())).toEqual(BLOB);
    const echo = await fetch(`${proxy.url}/upload?x=1`, { method: 'POST', body: 'payload' });
    expect(echo.status).toBe(201);
    expect(echo.headers.get('x-echo')).toBe('/upload?x=1');
    expect(await echo.text()).toBe('payload');
    expect(upstream.hits).toEqual(['GET /storage/batches/0', 'POST /upload?x=1']);
    expect(proxy.requests().map((r) => r.operation)).toEqual(['download', 'other']);
    expect(proxy.faults.count()).toBe(0);
  });

  it('classifies the sequencer storage API', async () => {
    const { proxy } = await proxied();
    for (const path of [
      '/storage/batches',
      '/storage/batches/10',
      '/storage/messages/4',
      '/storage/latest',
      '/status',
      '/health',
    ]) {
      await (await fetch(`${proxy.url}${path}`)).arrayBuffer();
    }
    expect(proxy.requests().map((r) => r.operation)).toEqual([
      'list',
      'download',
      'message',
      'latest',
      'status',
      'other',
    ]);
  });

  it('answers an injected status with Retry-After, without reaching the upstream', async () => {
    const { upstream, proxy } = await proxied();
    proxy.faults.set([
      { on: 'list', fault: { kind: 'status', status: 429, retryAfter: 7 }, times: 1 },
    ]);
    const failed = await fetch(`${proxy.url}/storage/batches`);
    expect(failed.status).toBe(429);
    expect(failed.headers.get('retry-after')).toBe('7');
    expect(await failed.json()).toEqual({ error: 'injected fault: HTTP 429' });
    expect(upstream.hits).toEqual([]);
    const ok = await fetch(`${proxy.url}/storage/batches`);
    expect(await ok.text()).toBe(LISTING);
    expect(proxy.faults.count({ operation: 'list', kind: 'status' })).toBe(1);
  });

  it('resets the connection before the headers', async () => {
    const { proxy } = await proxied();
    proxy.faults.set([{ on: 'download', fault: { kind: 'reset' } }]);
    await expect(fetch(`${proxy.url}/storage/batches/0`)).rejects.toThrow();
  });

  it('resets mid-body and truncates with a correct Content-Length', async () => {
    const { proxy } = await proxied();
    for (const kind of ['reset-mid-body', 'truncate'] as const) {
      proxy.faults.set([{ on: 'download', fault: { kind, afterBytes: 10 }, times: 1 }]);
      const response = await fetch(`${proxy.url}/storage/batches/0`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-length')).toBe(`${BLOB.length}`);
      await expect(response.arrayBuffer()).rejects.toThrow();
    }
    expect(proxy.faults.count()).toBe(2);
  });

  it('trickles a slow body that still arrives whole', async () => {
    const { proxy } = await proxied();
    proxy.faults.set([
      { on: 'download', fault: { kind: 'slow-body', chunkBytes: 64, intervalMs: 5 } },
    ]);
    const { bytes, reads } = await readChunks(await fetch(`${proxy.url}/storage/batches/0`));
    expect(bytes).toEqual(BLOB);
    expect(reads).toBeGreaterThan(1);
  });

  it('stalls a body and hangs a request until the client gives up, then the connection closes', async () => {
    const { proxy } = await proxied();
    proxy.faults.set([
      { on: 'download', fault: { kind: 'stall' }, times: 1 },
      { on: 'list', fault: { kind: 'hang' }, times: 1 },
    ]);
    const stalled = await fetch(`${proxy.url}/storage/batches/0`, {
      signal: AbortSignal.timeout(300),
    });
    expect(stalled.status).toBe(200);
    await expect(stalled.arrayBuffer()).rejects.toThrow();
    await expect(
      fetch(`${proxy.url}/storage/batches`, { signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    await waitFor(() => proxy.inFlight() === 0, 'the aborted responses to end');
    expect(proxy.faults.count()).toBe(2);
  });

  it('delays the headers, then answers normally', async () => {
    const { proxy } = await proxied();
    proxy.faults.set([{ on: 'list', fault: { kind: 'delay', ms: 50 } }]);
    const started = performance.now();
    expect(await (await fetch(`${proxy.url}/storage/batches`)).text()).toBe(LISTING);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('refuses an upstream that is not http', async () => {
    await expect(startHttpFaultProxy({ upstream: 'https://example.com' })).rejects.toBeInstanceOf(
      FaultProxyConfigError,
    );
  });

  it('answers 502 when the upstream is gone', async () => {
    const { upstream, proxy } = await proxied();
    await upstream.close();
    const response = await fetch(`${proxy.url}/storage/batches`);
    expect(response.status).toBe(502);
  });
});
