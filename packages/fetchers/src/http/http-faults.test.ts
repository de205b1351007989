import type { ServerResponse } from 'node:http';
import { signedMessageToJson } from '@synddb/protocol';
import { waitFor } from '@synddb/test-support';
import type { HttpFaultProxy } from '@synddb/test-support/storage';
import { describe, expect, it } from 'vitest';
import { FAULT_FETCHER_OPTIONS, STORAGE_FAULTS } from '../../test/fault-cases';
import { faultProxy, httpServer, V4_BLOB, v4Message } from '../../test/fixtures';
import { HttpStatusError, HttpTransportError, retryAfterOf } from '../errors';
import { createHttpFetcher, type HttpFetcherOptions } from './create-http-fetcher';

/** A sequencer storage API serving the v4 batch (sequences 0..2), behind a fault proxy. */
async function faultySequencer(): Promise<HttpFaultProxy> {
  const json = (res: ServerResponse, body: string) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  const upstream = await httpServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/storage/batches') return json(res, '[{"start_sequence":0,"end_sequence":2}]');
    if (url === '/storage/latest') return json(res, '{"sequence":2}');
    if (url === '/storage/batches/0')
      return res.writeHead(200, { 'content-type': 'application/cbor+zstd' }).end(V4_BLOB);
    const message = /^\/storage\/messages\/([0-2])$/.exec(url);
    if (message) return json(res, signedMessageToJson(v4Message(Number(message[1]))));
    return res.writeHead(404).end();
  });
  return faultProxy(upstream.url);
}

const fetcherFor = (proxy: HttpFaultProxy, options: Partial<HttpFetcherOptions> = {}) =>
  createHttpFetcher({ baseUrl: proxy.url, ...FAULT_FETCHER_OPTIONS, ...options });

const BATCH = { startSequence: 0n, endSequence: 2n, path: '0' };

describe('createHttpFetcher: injected faults', () => {
  it.each(STORAGE_FAULTS)(
    '$name on the first two requests of every route: retried, right answers, connections released',
    async ({ fault }) => {
      const proxy = await faultySequencer();
      proxy.faults.set([{ on: ['list', 'download', 'message', 'latest'], fault, times: 2 }]);
      const fetcher = fetcherFor(proxy);
      expect(await fetcher.listBatches()).toEqual([BATCH]);
      expect(await fetcher.getBatch(BATCH)).toEqual(V4_BLOB);
      expect(proxy.faults.count()).toBe(2);
      proxy.faults.set([{ on: ['message', 'latest'], fault, times: 2 }]);
      expect(await fetcher.getMessage(1n)).toEqual(v4Message(1));
      expect(await fetcher.getLatestSequence()).toBe(2n);
      expect(proxy.faults.count()).toBe(4);
      await waitFor(() => proxy.inFlight() === 0, 'faulted responses to be released');
    },
  );

  it('honours Retry-After within retryMaxDelayMs', async () => {
    const proxy = await faultySequencer();
    proxy.faults.set([
      { on: 'download', fault: { kind: 'status', status: 503, retryAfter: 1 }, times: 1 },
    ]);
    const started = performance.now();
    expect(await fetcherFor(proxy, { retryMaxDelayMs: 5_000 }).getBatch(BATCH)).toEqual(V4_BLOB);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('leaves a Retry-After beyond retryMaxDelayMs to the caller: one attempt, retryAfterMs set', async () => {
    const proxy = await faultySequencer();
    const at = new Date(Date.now() + 90_000).toUTCString(); // an HTTP-date
    proxy.faults.set([{ on: 'list', fault: { kind: 'status', status: 429, retryAfter: at } }]);
    const error = await fetcherFor(proxy)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(429);
    const wait = retryAfterOf(error)!;
    expect(wait).toBeGreaterThan(80_000);
    expect(wait).toBeLessThanOrEqual(90_000);
    expect(proxy.faults.count()).toBe(1);
  });

  it('reports a 429 that outlasts the retries with its last Retry-After', async () => {
    const proxy = await faultySequencer();
    proxy.faults.set([{ on: 'download', fault: { kind: 'status', status: 429, retryAfter: 0 } }]);
    const error = await fetcherFor(proxy, { maxRetries: 1 })
      .getBatch(BATCH)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).retryAfterMs).toBe(0);
    expect(proxy.faults.count()).toBe(2);
  });

  it('fails with HttpTransportError(timedOut) when every attempt stalls, releasing each connection', async () => {
    const proxy = await faultySequencer();
    proxy.faults.set([{ on: 'download', fault: { kind: 'slow-body', intervalMs: 100 } }]);
    const error = await fetcherFor(proxy, { maxRetries: 1, timeoutMs: 200 })
      .getBatch(BATCH)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).timedOut).toBe(true);
    expect((error as HttpTransportError).attempts).toBe(2);
    await waitFor(() => proxy.inFlight() === 0, 'slow responses to be released');
  });
});
