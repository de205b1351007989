// StorageFetcher.openBatch: the stored blob as a stream, for batches too large for getBatch (a
// snapshot travels in one batch), in every fetcher of this package.
import { randomFillSync } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBatchFilename } from '@synddb/protocol';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { gcsServer, httpServer } from '../test/fixtures';
import {
  BatchTooLargeError,
  FallbackExhaustedError,
  GcsRequestError,
  HttpTransportError,
  InvalidBatchPathError,
  InvalidResponseError,
} from './errors';
import { createFallbackFetcher } from './fallback/create-fallback-fetcher';
import { createFsFetcher } from './fs/create-fs-fetcher';
import { crc32cBase64 } from './gcs/crc32c';
import { createGcsFetcher } from './gcs/create-gcs-fetcher';
import { createHttpFetcher } from './http/create-http-fetcher';
import type { BatchStream, StorageFetcher } from './types';

const MiB = 1024 * 1024;
const BUCKET = 'synddb-test';
const NAME = `sequencer/batches/${formatBatchFilename(0n, 0n)}`;
const info = { startSequence: 0n, endSequence: 0n, path: '0' };
const blob = randomFillSync(new Uint8Array(3 * MiB + 123));

async function drain(stream: BatchStream | null): Promise<Buffer> {
  if (stream === null) throw new Error('absent');
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream.body) chunks.push(chunk.slice());
  return Buffer.concat(chunks);
}

function open(fetcher: StorageFetcher, maxBytes = 16 * MiB) {
  if (fetcher.openBatch === undefined) throw new Error(`${fetcher.kind} cannot stream`);
  return fetcher.openBatch(info, { maxBytes });
}

const http = (url: string, timeoutMs = 5000) =>
  createHttpFetcher({ baseUrl: url, maxBatchBytes: MiB, retryBaseDelayMs: 1, timeoutMs });

describe('openBatch (http)', () => {
  it('streams a batch larger than maxBatchBytes, which getBatch refuses', async () => {
    const server = await httpServer((_req, res) => res.end(Buffer.from(blob)));
    const fetcher = http(server.url);
    await expect(fetcher.getBatch(info)).rejects.toBeInstanceOf(BatchTooLargeError);
    const stream = await open(fetcher);
    expect(stream?.size).toBe(blob.length);
    expect(await drain(stream)).toEqual(Buffer.from(blob));
  });

  it('refuses an announced size past maxBytes before the body, and a streamed one as it passes', async () => {
    const announced = await httpServer((_req, res) => res.end(Buffer.from(blob)));
    await expect(open(http(announced.url), MiB)).rejects.toBeInstanceOf(BatchTooLargeError);
    const chunked = await httpServer((_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write(Buffer.from(blob.subarray(0, MiB)));
      res.end(Buffer.from(blob.subarray(MiB)));
    });
    const stream = await open(http(chunked.url), 2 * MiB);
    expect(stream?.size).toBeUndefined();
    await expect(drain(stream)).rejects.toBeInstanceOf(BatchTooLargeError);
  });

  it('cuts a body that stalls, but not one that keeps flowing past the timeout', async () => {
    const stalled = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(Buffer.from(blob.subarray(0, 1000)));
    });
    const error = await drain(await open(http(stalled.url, 200))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).timedOut).toBe(true);

    // 10 pieces 60 ms apart: 600 ms in all, three times the 200 ms timeout.
    const slow = await httpServer(async (_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1000) });
      for (let i = 0; i < 10; i++) {
        res.write(Buffer.from(blob.subarray(i * 1000, (i + 1) * 1000)));
        await new Promise((r) => setTimeout(r, 60));
      }
      res.end();
    });
    expect(await drain(await open(http(slow.url, 200)))).toEqual(
      Buffer.from(blob.subarray(0, 10_000)),
    );
  });

  it('ends with a storage error when the body is cut short, and is null on 404', async () => {
    const cut = await httpServer((req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(Buffer.from(blob.subarray(0, MiB)), () => req.socket.destroy());
    });
    const error = await drain(await open(http(cut.url))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).kind).toBe('storage');
    const missing = await httpServer((_req, res) => res.writeHead(404).end());
    expect(await open(http(missing.url))).toBeNull();
  });

  it('stopping early releases the connection', async () => {
    let closed = false;
    const server = await httpServer((req, res) => {
      req.socket.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-length': String(100 * MiB) });
      res.write(Buffer.from(blob));
    });
    const stream = await open(http(server.url), 200 * MiB);
    for await (const _chunk of stream!.body) break;
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
  });
});

describe('openBatch (fs)', () => {
  it('streams a file larger than maxBatchBytes; refuses one over maxBytes, symlinks; null when absent', async () => {
    const dir = tempDir('synddb-open-batch-');
    mkdirSync(join(dir, 'sequencer', 'batches'), { recursive: true });
    const fetcher = createFsFetcher({ directory: dir, maxBatchBytes: MiB });
    expect(await open(fetcher)).toBeNull();
    writeFileSync(join(dir, NAME), blob);
    await expect(fetcher.getBatch(info)).rejects.toBeInstanceOf(BatchTooLargeError);
    const stream = await open(fetcher);
    expect(stream?.size).toBe(blob.length);
    expect(await drain(stream)).toEqual(Buffer.from(blob));
    await expect(open(fetcher, 2 * MiB)).rejects.toBeInstanceOf(BatchTooLargeError);

    const linked = tempDir('synddb-open-batch-');
    mkdirSync(join(linked, 'sequencer', 'batches'), { recursive: true });
    symlinkSync(join(dir, NAME), join(linked, NAME));
    await expect(open(createFsFetcher({ directory: linked }))).rejects.toBeInstanceOf(
      InvalidBatchPathError,
    );
  });
});

describe('openBatch (gcs)', () => {
  it('streams an object larger than maxBatchBytes', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, NAME, blob);
    const fetcher = createGcsFetcher({
      bucket: BUCKET,
      emulatorHost: server.url,
      maxBatchBytes: MiB,
    });
    await expect(fetcher.getBatch(info)).rejects.toBeInstanceOf(BatchTooLargeError);
    expect(await drain(await open(fetcher))).toEqual(Buffer.from(blob));
  });

  it('checks the crc32c once the body is complete', async () => {
    const good = crc32cBase64(blob);
    const server = await httpServer((_req, res) => {
      const body = Buffer.from(blob);
      body[body.length >> 1]! ^= 1; // damaged in transit
      res.writeHead(200, { 'x-goog-hash': `crc32c=${good}` }).end(body);
    });
    const fetcher = createGcsFetcher({
      bucket: BUCKET,
      emulatorHost: server.url,
      maxBatchBytes: MiB,
    });
    const error = await drain(await open(fetcher)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).kind).toBe('storage');
    expect(String(error)).toContain('crc32c');
  });

  it('reports a failed download as GcsRequestError', async () => {
    const server = await httpServer((_req, res) => res.writeHead(403).end('denied'));
    const fetcher = createGcsFetcher({ bucket: BUCKET, emulatorHost: server.url });
    await expect(open(fetcher)).rejects.toBeInstanceOf(GcsRequestError);
  });
});

describe('openBatch (fallback)', () => {
  it('opens from the next source when one fails or lacks the batch, and only from sources that stream', async () => {
    const failing = await httpServer((_req, res) => res.writeHead(403).end());
    const missing = await httpServer((_req, res) => res.writeHead(404).end());
    const good = await httpServer((_req, res) => res.end(Buffer.from(blob)));
    const { openBatch: _streams, ...noStream } = http(good.url);
    const fallback = createFallbackFetcher([
      noStream,
      http(failing.url),
      http(missing.url),
      http(good.url),
    ]);
    expect(await drain(await open(fallback))).toEqual(Buffer.from(blob));
    const none = createFallbackFetcher([noStream]);
    expect(none.openBatch).toBeUndefined();
    const allFail = createFallbackFetcher([http(failing.url)]);
    await expect(open(allFail)).rejects.toBeInstanceOf(FallbackExhaustedError);
  });
});
