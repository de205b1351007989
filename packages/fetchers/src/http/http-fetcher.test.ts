import type { ServerResponse } from 'node:http';
import { SignedMessageJsonError, signedMessageToJson } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { httpServer as serve, V4_BLOB, v4Message, wire } from '../../test/fixtures';
import {
  BatchTooLargeError,
  FetcherConfigError,
  HttpStatusError,
  HttpTransportError,
  InvalidResponseError,
  ResponseTooLargeError,
} from '../errors';
import { fullJitterDelay } from './backoff';
import { createHttpFetcher, type HttpFetcherOptions } from './create-http-fetcher';
import { fetchSequencerStatus } from './fetch-sequencer-status';

function json(res: ServerResponse, text: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(text);
}

/** Fast retries for tests; everything else default. */
function fetcherFor(server: { url: string }, options: Partial<HttpFetcherOptions> = {}) {
  return createHttpFetcher({
    baseUrl: server.url,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    ...options,
  });
}

const info = (start: bigint, end = start) => ({
  startSequence: start,
  endSequence: end,
  path: `${start}`,
});

describe('createHttpFetcher: listBatches', () => {
  it('parses the listing, sets path to the decimal start and keeps u64 values > 2^53 exact', async () => {
    const server = await serve((_req, res) =>
      json(
        res,
        '[{"start_sequence":0,"end_sequence":9},{"start_sequence":10,"end_sequence":10},' +
          '{"start_sequence":9007199254740993,"end_sequence":18446744073709551615}]',
      ),
    );
    const list = await fetcherFor(server).listBatches();
    expect(list).toEqual([
      { startSequence: 0n, endSequence: 9n, path: '0' },
      { startSequence: 10n, endSequence: 10n, path: '10' },
      {
        startSequence: 9007199254740993n,
        endSequence: 18446744073709551615n,
        path: '9007199254740993',
      },
    ]);
    expect(server.hits).toEqual(['GET /storage/batches']);
  });

  it('filters to batches after `after`', async () => {
    const server = await serve((_req, res) =>
      json(res, '[{"start_sequence":0,"end_sequence":9},{"start_sequence":10,"end_sequence":19}]'),
    );
    expect(await fetcherFor(server).listBatches({ after: info(0n, 9n) })).toEqual([info(10n, 19n)]);
  });

  it('trims trailing slashes of baseUrl', async () => {
    const server = await serve((_req, res) => json(res, '[]'));
    await createHttpFetcher({ baseUrl: `${server.url}///` }).listBatches();
    expect(server.hits).toEqual(['GET /storage/batches']);
  });

  it.each([
    ['garbage', '{not json'],
    ['an object', '{"start_sequence":0}'],
    ['a missing end', '[{"start_sequence":0}]'],
    ['a string number', '[{"start_sequence":"0","end_sequence":1}]'],
    ['a fraction', '[{"start_sequence":1.5,"end_sequence":2}]'],
    ['an exponent', '[{"start_sequence":1e3,"end_sequence":2000}]'],
    ['a negative', '[{"start_sequence":-1,"end_sequence":2}]'],
    [
      'a value > u64',
      '[{"start_sequence":18446744073709551616,"end_sequence":18446744073709551617}]',
    ],
    ['end < start', '[{"start_sequence":5,"end_sequence":4}]'],
    ['unsorted', '[{"start_sequence":10,"end_sequence":19},{"start_sequence":0,"end_sequence":9}]'],
    ['a null entry', '[null]'],
  ])('rejects %s with InvalidResponseError and does not retry', async (_name, body) => {
    const server = await serve((_req, res) => json(res, body));
    const error = await fetcherFor(server)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).code).toBe('INVALID_RESPONSE');
    expect(server.hits).toHaveLength(1);
  });

  it('rejects invalid UTF-8', async () => {
    const server = await serve((_req, res) => res.end(Buffer.from([0x5b, 0xff, 0x5d])));
    await expect(fetcherFor(server).listBatches()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('treats 404 on the listing as a wrong base URL', async () => {
    const server = await serve((_req, res) => res.writeHead(404).end());
    const error = await fetcherFor(server)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(404);
  });

  it('caps JSON bodies at maxJsonBytes', async () => {
    const body = `[${Array.from({ length: 200 }, (_, i) => `{"start_sequence":${i},"end_sequence":${i}}`).join(',')}]`;
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body); // chunked: no Content-Length, counted while streaming
    });
    await expect(fetcherFor(server, { maxJsonBytes: 1000 }).listBatches()).rejects.toBeInstanceOf(
      ResponseTooLargeError,
    );
  });
});

describe('createHttpFetcher: getBatch', () => {
  it('downloads /storage/batches/{start} as raw bytes', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/storage/batches/0') {
        res.writeHead(200, { 'content-type': 'application/cbor+zstd' }).end(Buffer.from(V4_BLOB));
      } else res.writeHead(404).end();
    });
    const fetcher = fetcherFor(server);
    expect(await fetcher.getBatch(info(0n, 2n))).toEqual(V4_BLOB);
    expect(await fetcher.getBatch(info(3n))).toBeNull();
    // The start addresses the batch, whatever path another store gave it.
    expect(
      await fetcher.getBatch({
        ...info(0n, 2n),
        path: 'sequencer/batches/000000000000_000000000002.cbor.zst',
      }),
    ).toEqual(V4_BLOB);
  });

  it('rejects an oversized Content-Length before reading, without retrying', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '5000' });
      res.write(Buffer.alloc(100));
      // Never finishes: the fetcher must not wait for the body.
    });
    const error = await fetcherFor(server, { maxBatchBytes: 1000 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchTooLargeError);
    expect((error as BatchTooLargeError).size).toBe(5000);
    expect(server.hits).toHaveLength(1);
  });

  it('counts streamed bytes when no Content-Length is sent', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(100));
      res.end();
    });
    const error = await fetcherFor(server, { maxBatchBytes: 1000 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchTooLargeError);
    expect((error as BatchTooLargeError).code).toBe('BATCH_TOO_LARGE');
  });

  it('accepts a body of exactly maxBatchBytes', async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(1000, 7)));
    expect((await fetcherFor(server, { maxBatchBytes: 1000 }).getBatch(info(0n)))?.length).toBe(
      1000,
    );
  });

  it('retries 500 and reports it as HttpStatusError, with the body, once the retries are spent', async () => {
    const server = await serve((_req, res) => res.writeHead(500).end('boom'));
    const error = await fetcherFor(server, { maxRetries: 2 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(500);
    expect((error as HttpStatusError).details).toContain('boom');
    expect((error as HttpStatusError).details).toContain('still failing after 3 attempts');
    expect(server.hits).toHaveLength(3);
  });

  it('retries 503 and succeeds', async () => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls < 3) res.writeHead(503).end();
      else res.end(Buffer.from([1, 2, 3]));
    });
    expect(await fetcherFor(server).getBatch(info(0n))).toEqual(new Uint8Array([1, 2, 3]));
    expect(server.hits).toHaveLength(3);
  });

  it('gives up after maxRetries on 502/504 with the last status', async () => {
    const server = await serve((_req, res) =>
      res.writeHead(server.hits.length % 2 ? 502 : 504).end(),
    );
    const error = await fetcherFor(server, { maxRetries: 2 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect([502, 504]).toContain((error as HttpStatusError).status);
    expect(server.hits).toHaveLength(3);
  });

  it('retries a truncated body (connection closed before Content-Length)', async () => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write(Buffer.alloc(40));
        setTimeout(() => res.socket?.destroy(), 10);
      } else res.end(Buffer.alloc(100, 1));
    });
    expect((await fetcherFor(server).getBatch(info(0n)))?.length).toBe(100);
    expect(calls).toBe(2);
  });

  it('reads a large body with a Content-Length into one buffer of that size, exactly', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      // in pieces, as a real transfer arrives
      for (let at = 0; at < body.length; at += 65_536) res.write(body.subarray(at, at + 65_536));
      res.end();
    });
    const blob = (await fetcherFor(server).getBatch(info(0n)))!;
    expect(Buffer.compare(Buffer.from(blob), body)).toBe(0);
    // the whole buffer: the sync engine can move it to a prepare worker without a copy
    expect(blob.byteOffset).toBe(0);
    expect(blob.buffer.byteLength).toBe(body.length);
  });

  it('retries a large truncated body (connection closed before Content-Length)', async () => {
    let calls = 0;
    const size = 2 * 1024 * 1024;
    const server = await serve((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-length': String(size) });
      if (calls === 1) {
        res.write(Buffer.alloc(size / 2, 1));
        setTimeout(() => res.socket?.destroy(), 10);
      } else res.end(Buffer.alloc(size, 2));
    });
    const blob = (await fetcherFor(server).getBatch(info(0n)))!;
    expect(blob.length).toBe(size);
    expect(blob.every((b) => b === 2)).toBe(true);
    expect(calls).toBe(2);
  });

  it('times out a hanging response, retries, then fails with HttpTransportError(timedOut)', async () => {
    const server = await serve(() => {
      // never respond
    });
    const error = await fetcherFor(server, { timeoutMs: 100, maxRetries: 1 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).timedOut).toBe(true);
    expect((error as HttpTransportError).attempts).toBe(2);
    expect(server.hits).toHaveLength(2);
  });

  it('times out a body that stalls after the headers', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write(Buffer.alloc(5));
    });
    const error = await fetcherFor(server, { timeoutMs: 100, maxRetries: 0 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).timedOut).toBe(true);
  });

  it('reports connection refused as HttpTransportError after retries', async () => {
    const server = await serve(() => undefined);
    const url = server.url;
    await server.close();
    const error = await createHttpFetcher({ baseUrl: url, maxRetries: 2, retryBaseDelayMs: 1 })
      .getBatch(info(0n))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).attempts).toBe(3);
    expect((error as HttpTransportError).timedOut).toBe(false);
  });

  it.each([400, 401, 403, 501])(
    'does not retry HTTP %i (only transient failures are retried)',
    async (status) => {
      const server = await serve((_req, res) => res.writeHead(status).end());
      const error = await fetcherFor(server)
        .getBatch(info(0n))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpStatusError);
      expect((error as HttpStatusError).status).toBe(status);
      expect(server.hits).toHaveLength(1);
    },
  );

  it('waits a jittered, doubling delay between retries, drawn from `random`', async () => {
    const at: number[] = [];
    const server = await serve((_req, res) => {
      at.push(performance.now());
      res.writeHead(503).end();
    });
    const draws: number[] = [];
    const run = (value: number, retryBaseDelayMs = 60) =>
      createHttpFetcher({
        baseUrl: server.url,
        maxRetries: 2,
        retryBaseDelayMs,
        retryMaxDelayMs: 1000,
        random: () => {
          draws.push(value);
          return value;
        },
      })
        .getBatch(info(0n))
        .catch((e: unknown) => e);
    // Top of the window: ~59 ms, then ~119 ms (base * 2^attempt).
    expect(await run(0.999)).toBeInstanceOf(HttpStatusError);
    expect(draws).toHaveLength(2);
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(50);
    expect(gaps[1]).toBeGreaterThanOrEqual(110);
    // Bottom of the window: no wait at all, with a base (1 s, then 2 s) far above what three
    // requests take on a loaded machine (52 ms once in CI against a 50 ms bound).
    at.length = 0;
    await run(0, 1000);
    expect(at[2]! - at[0]!).toBeLessThan(500);
  });

  it('stops during the backoff sleep when the caller aborts', async () => {
    const server = await serve((_req, res) => res.writeHead(503).end());
    const controller = new AbortController();
    const reason = new Error('shutdown');
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    const error = await createHttpFetcher({
      baseUrl: server.url,
      retryBaseDelayMs: 5_000,
      retryMaxDelayMs: 10_000,
      random: () => 0.999,
    })
      .getBatch(info(0n), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.hits).toHaveLength(1);
  });

  it('stops at once when the caller aborts, without retrying', async () => {
    const server = await serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutdown')), 50);
    const started = Date.now();
    const error = await fetcherFor(server, { timeoutMs: 10_000 })
      .getBatch(info(0n), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('shutdown');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.hits).toHaveLength(1);
  });
});

describe('createHttpFetcher: getMessage and getLatestSequence', () => {
  it('parses /storage/messages/{seq} and returns null on 404', async () => {
    const message = v4Message(1);
    const server = await serve((req, res) => {
      if (req.url === '/storage/messages/1') json(res, signedMessageToJson(message));
      else res.writeHead(404).end();
    });
    const fetcher = fetcherFor(server);
    expect(await fetcher.getMessage(1n)).toEqual(message);
    expect(await fetcher.getMessage(7n)).toBeNull();
  });

  it('rejects a malformed message body with the protocol error', async () => {
    const server = await serve((_req, res) => json(res, '{"sequence":1}'));
    await expect(fetcherFor(server).getMessage(1n)).rejects.toBeInstanceOf(SignedMessageJsonError);
  });

  it.each([
    ['{"sequence":18446744073709551615}', 18446744073709551615n],
    ['{"sequence":9007199254740993}', 9007199254740993n],
    ['{"sequence":0}', 0n],
    ['{"sequence":null}', null],
    ['{}', null],
  ])('reads /storage/latest %s', async (body, expected) => {
    const server = await serve((_req, res) => json(res, body));
    expect(await fetcherFor(server).getLatestSequence()).toBe(expected);
  });

  it.each(['[]', '{"sequence":-1}', '{"sequence":"5"}', '{"sequence":2.5}', 'null'])(
    'rejects /storage/latest %s',
    async (body) => {
      const server = await serve((_req, res) => json(res, body));
      await expect(fetcherFor(server).getLatestSequence()).rejects.toBeInstanceOf(
        InvalidResponseError,
      );
    },
  );
});

describe('fetchSequencerStatus', () => {
  const status = {
    current_sequence: 3,
    signer_address: wire.keys.anvil0.address.replace('0xf39f', '0xF39F'),
    signer_pubkey: `0x${wire.keys.anvil0.pubkey64}`,
  };

  it('returns the pubkey and checks the address derives from it', async () => {
    const server = await serve((req, res) =>
      req.url === '/status' ? json(res, JSON.stringify(status)) : res.end(),
    );
    const result = await fetchSequencerStatus(`${server.url}/`);
    expect(result.currentSequence).toBe(3n);
    expect(result.signerAddress).toBe(wire.keys.anvil0.address);
    expect(Buffer.from(result.signerPubkey).toString('hex')).toBe(wire.keys.anvil0.pubkey64);
  });

  it('rejects an address that does not match the pubkey', async () => {
    const bad = { ...status, signer_address: `0x${'11'.repeat(20)}` };
    const server = await serve((_req, res) => json(res, JSON.stringify(bad)));
    await expect(fetchSequencerStatus(server.url)).rejects.toThrow(/does not match/);
  });

  it.each([
    { ...status, signer_pubkey: '0x1234' },
    { ...status, current_sequence: 'x' },
    { signer_pubkey: status.signer_pubkey },
  ])('rejects malformed status %#', async (body) => {
    const server = await serve((_req, res) => json(res, JSON.stringify(body)));
    await expect(fetchSequencerStatus(server.url)).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('reports a missing /status route', async () => {
    const server = await serve((_req, res) => res.writeHead(404).end());
    await expect(fetchSequencerStatus(server.url)).rejects.toThrow(/no \/status route/);
  });
});

describe('options and backoff', () => {
  it.each([
    { baseUrl: 'not a url' },
    { baseUrl: 'ftp://example.com' },
    { baseUrl: 'http://x/?q=1' },
    { baseUrl: 'http://x', timeoutMs: 0 },
    { baseUrl: 'http://x', maxRetries: -1 },
    { baseUrl: 'http://x', maxBatchBytes: 1.5 },
    { baseUrl: 'http://x', retryBaseDelayMs: 100, retryMaxDelayMs: 10 },
  ])('rejects invalid options %#', (options) => {
    expect(() => createHttpFetcher(options)).toThrow(FetcherConfigError);
  });

  it('full-jitter delays stay within [0, min(max, base*2^attempt))', () => {
    expect(fullJitterDelay(0, 100, 10_000, () => 0.999)).toBe(99);
    expect(fullJitterDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(fullJitterDelay(20, 100, 10_000, () => 0.999)).toBe(9990);
    expect(fullJitterDelay(2000, 100, 10_000, () => 0.999)).toBe(9990);
    expect(fullJitterDelay(5, 100, 10_000, () => 0)).toBe(0);
  });
});
