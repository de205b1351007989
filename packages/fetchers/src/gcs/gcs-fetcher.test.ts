import type { ServerResponse } from 'node:http';
import { Storage } from '@google-cloud/storage';
import { formatBatchFilename } from '@synddb/protocol';
import { tempDir } from '@synddb/test-support';
import type { GcsTestServer } from '@synddb/test-support/storage';
import { describe, expect, it } from 'vitest';
import { gcsServer, httpServer, V4_BLOB, v4Message } from '../../test/fixtures';
import { BatchIndex } from '../batch-index';
import {
  BatchTooLargeError,
  FetcherConfigError,
  GcsRequestError,
  type HttpTransportError,
  InvalidResponseError,
} from '../errors';
import { writeBatchFile } from '../fs/write-batch-file';
import { createGcsFetcher, type GcsFetcherOptions } from './create-gcs-fetcher';

const BUCKET = 'synddb-test';
const name = (start: number | bigint, end: number | bigint, prefix = 'sequencer') =>
  `${prefix}/batches/${formatBatchFilename(start, end)}`;

function fetcherFor(server: { url: string }, options: Partial<GcsFetcherOptions> = {}) {
  return createGcsFetcher({ bucket: BUCKET, emulatorHost: server.url, ...options });
}

/** Listing requests the server saw for `prefix`, as their query strings. */
function listQueries(server: GcsTestServer): Record<string, string>[] {
  return server
    .requests()
    .filter((r) => r.method === 'GET' && r.path === `/storage/v1/b/${BUCKET}/o`)
    .map((r) => r.query);
}

/** Puts batches [i*10, i*10+9] for i in [from, to) with 1-byte bodies. */
async function putBatches(server: GcsTestServer, from: number, to: number, prefix = 'sequencer') {
  for (let i = from; i < to; i++) {
    await server.putObject(BUCKET, name(i * 10, i * 10 + 9, prefix), new Uint8Array([i & 0xff]));
  }
}

describe('createGcsFetcher: listing', () => {
  it('follows page tokens across many objects with a small page size', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 95);
    const list = await fetcherFor(server, { pageSize: 10 }).listBatches();
    expect(list).toHaveLength(95);
    expect(list[0]).toEqual({ startSequence: 0n, endSequence: 9n, path: name(0, 9) });
    expect(list[94]).toEqual({ startSequence: 940n, endSequence: 949n, path: name(940, 949) });
    for (let i = 1; i < list.length; i++)
      expect(list[i]!.startSequence).toBe(list[i - 1]!.endSequence + 1n);
    const queries = listQueries(server);
    expect(queries).toHaveLength(10);
    expect(queries.every((q) => q.maxResults === '10' && q.prefix === 'sequencer/batches/')).toBe(
      true,
    );
    expect(queries[0]!.pageToken).toBeUndefined();
    expect(queries.slice(1).every((q) => typeof q.pageToken === 'string')).toBe(true);
  });

  it('sorts numerically, not by name, once starts outgrow 12 digits', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(10n ** 12n, 10n ** 12n + 5n), new Uint8Array([1]));
    await server.putObject(BUCKET, name(999_999_999_990n, 999_999_999_999n), new Uint8Array([1]));
    const list = await fetcherFor(server).listBatches();
    expect(list.map((b) => b.startSequence)).toEqual([999_999_999_990n, 10n ** 12n]);
  });

  it('refreshes incrementally: startOffset is the last known name and old objects are not relisted', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 50);
    const fetcher = fetcherFor(server, { pageSize: 10 });
    const index = new BatchIndex();
    expect(await index.refresh(fetcher)).toBe(50);
    expect(listQueries(server)).toHaveLength(5);

    await putBatches(server, 50, 53);
    const before = listQueries(server).length;
    expect(await index.refresh(fetcher)).toBe(3);
    const refresh = listQueries(server).slice(before);
    // One page: the last known object plus the three new ones, not the 50 known batches.
    expect(refresh).toEqual([
      {
        prefix: 'sequencer/batches/',
        maxResults: '10',
        fields: 'items(name),nextPageToken',
        startOffset: name(490, 499),
      },
    ]);
    expect(index.latest()?.endSequence).toBe(529n);

    // Nothing new: still a single page from the last known name.
    expect(await index.refresh(fetcher)).toBe(0);
    expect(listQueries(server).at(-1)?.startOffset).toBe(name(520, 529));
  });

  it('pages an incremental listing with both startOffset and pageToken', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 30);
    const fetcher = fetcherFor(server, { pageSize: 4 });
    const after = { startSequence: 100n, endSequence: 109n, path: name(100, 109) };
    const list = await fetcher.listBatches({ after });
    expect(list.map((b) => b.startSequence)).toEqual(
      Array.from({ length: 19 }, (_, i) => BigInt((i + 11) * 10)),
    );
    const queries = listQueries(server);
    expect(queries.length).toBe(5); // 20 names from the offset, 4 per page
    expect(queries.every((q) => q.startOffset === name(100, 109))).toBe(true);
    expect(queries.slice(1).every((q) => q.pageToken !== undefined)).toBe(true);
  });

  it('uses the canonical name as startOffset when `after` came from another store', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 3);
    const fetcher = fetcherFor(server);
    // An HTTP listing's path is the decimal start.
    const list = await fetcher.listBatches({
      after: { startSequence: 0n, endSequence: 9n, path: '0' },
    });
    expect(list.map((b) => b.startSequence)).toEqual([10n, 20n]);
    expect(listQueries(server).at(-1)?.startOffset).toBe(name(0, 9));
  });

  it('lists everything (no startOffset) past 12-digit starts, where name order stops being numeric', async () => {
    const server = await gcsServer();
    const big = 10n ** 12n;
    await server.putObject(BUCKET, name(big, big + 9n), new Uint8Array([1]));
    await server.putObject(BUCKET, name(big + 10n, big + 19n), new Uint8Array([1]));
    const list = await fetcherFor(server).listBatches({
      after: { startSequence: big, endSequence: big + 9n, path: name(big, big + 9n) },
    });
    expect(list.map((b) => b.startSequence)).toEqual([big + 10n]);
    expect(listQueries(server).at(-1)?.startOffset).toBeUndefined();
  });

  it('ignores objects whose names are not batch names', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 2);
    const junk = [
      'sequencer/batches/README.txt',
      'sequencer/batches/5_x.cbor.zst',
      'sequencer/batches/000000000030_000000000039.cbor',
      'sequencer/batches/000000000030-000000000039.cbor.zst',
      'sequencer/batches/sub/000000000040_000000000049.cbor.zst', // nested: not directly in the folder
      'sequencer/batches/000000000050_000000000059_1.cbor.zst',
      'sequencer/batches/99999999999999999999_99999999999999999999.cbor.zst', // > u64
      'sequencer/batches/-1_5.cbor.zst',
      'sequencer/snapshots/000000000060_000000000069.cbor.zst',
      'other/batches/000000000070_000000000079.cbor.zst',
    ];
    for (const n of junk) await server.putObject(BUCKET, n, new Uint8Array([0]));
    expect(await fetcherFor(server).listBatches()).toEqual([
      { startSequence: 0n, endSequence: 9n, path: name(0, 9) },
      { startSequence: 10n, endSequence: 19n, path: name(10, 19) },
    ]);
  });

  it('keeps non-canonical but parseable names (as the reference does) and reads them by path', async () => {
    const server = await gcsServer();
    const odd = 'sequencer/batches/5_7.cbor.zst';
    await server.putObject(BUCKET, odd, new Uint8Array([5, 7]));
    const fetcher = fetcherFor(server);
    const list = await fetcher.listBatches();
    expect(list).toEqual([{ startSequence: 5n, endSequence: 7n, path: odd }]);
    expect(await fetcher.getBatch(list[0]!)).toEqual(new Uint8Array([5, 7]));
  });

  it('returns an empty listing for an empty or unknown bucket', async () => {
    const server = await gcsServer();
    const fetcher = fetcherFor(server);
    expect(await fetcher.listBatches()).toEqual([]);
    expect(await fetcher.getLatestSequence()).toBeNull();
    expect(await fetcher.getMessage(0n)).toBeNull();
  });
});

describe('createGcsFetcher: prefixes', () => {
  it.each([
    ['sequencer', undefined],
    ['custom/deep', 'custom/deep'],
    ['custom/deep', '/custom/deep/'],
    ['', ''],
  ])('reads %j objects with prefix option %j', async (stored, option) => {
    const server = await gcsServer();
    const objectName = stored === '' ? `batches/${formatBatchFilename(0, 9)}` : name(0, 9, stored);
    await server.putObject(BUCKET, objectName, new Uint8Array([42]));
    // A decoy under a sibling prefix that a careless prefix match would pick up.
    await server.putObject(BUCKET, name(10, 19, `${stored || 'x'}-other`), new Uint8Array([1]));
    const fetcher = fetcherFor(server, option === undefined ? {} : { prefix: option });
    const list = await fetcher.listBatches();
    expect(list).toEqual([{ startSequence: 0n, endSequence: 9n, path: objectName }]);
    expect(await fetcher.getBatch(list[0]!)).toEqual(new Uint8Array([42]));
    expect(listQueries(server).at(-1)?.prefix).toBe(
      stored === '' ? 'batches/' : `${stored}/batches/`,
    );
  });

  it.each(['a/../b', 'a//b', './a', 'a\\b'])('rejects prefix %j', (prefix) => {
    expect(() =>
      createGcsFetcher({ bucket: BUCKET, emulatorHost: 'http://127.0.0.1:1', prefix }),
    ).toThrow(FetcherConfigError);
  });
});

describe('createGcsFetcher: downloads', () => {
  it('downloads the media of a listed batch, and by range for BatchInfo from another store', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 2), V4_BLOB);
    const fetcher = fetcherFor(server);
    const [info] = await fetcher.listBatches();
    expect(await fetcher.getBatch(info!)).toEqual(V4_BLOB);
    expect(await fetcher.getBatch({ startSequence: 0n, endSequence: 2n, path: '0' })).toEqual(
      V4_BLOB,
    );
    const media = server.requests().filter((r) => r.query.alt === 'media');
    expect(media.map((r) => r.path)).toEqual([
      `/storage/v1/b/${BUCKET}/o/${name(0, 2)}`,
      `/storage/v1/b/${BUCKET}/o/${name(0, 2)}`,
    ]);
  });

  it('returns null for a missing object (404), including a path outside the folder', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, 'elsewhere/000000000000_000000000002.cbor.zst', V4_BLOB);
    const fetcher = fetcherFor(server);
    expect(
      await fetcher.getBatch({ startSequence: 0n, endSequence: 2n, path: name(0, 2) }),
    ).toBeNull();
    // A foreign path is never followed: the canonical name inside the folder is read instead.
    expect(
      await fetcher.getBatch({
        startSequence: 0n,
        endSequence: 2n,
        path: 'elsewhere/000000000000_000000000002.cbor.zst',
      }),
    ).toBeNull();
    expect(server.requests().some((r) => r.path.includes('elsewhere'))).toBe(false);
  });

  it('rejects an object over maxBatchBytes and accepts one of exactly that size', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 0), new Uint8Array(1001));
    await server.putObject(BUCKET, name(1, 1), new Uint8Array(1000).fill(9));
    const fetcher = fetcherFor(server, { maxBatchBytes: 1000 });
    const [big, exact] = await fetcher.listBatches();
    const error = await fetcher.getBatch(big!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchTooLargeError);
    expect((error as BatchTooLargeError).code).toBe('BATCH_TOO_LARGE');
    expect((error as BatchTooLargeError).limit).toBe(1000);
    expect((error as BatchTooLargeError).size).toBe(1001);
    expect((error as BatchTooLargeError).locator).toBe(`gs://${BUCKET}/${name(0, 0)}`);
    expect(await fetcher.getBatch(exact!)).toEqual(new Uint8Array(1000).fill(9));
  });

  it('counts streamed bytes when the server announces no length', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
      for (let i = 0; i < 30; i++) res.write(Buffer.alloc(100));
      res.end();
    });
    const error = await fetcherFor(server, { maxBatchBytes: 1000 })
      .getBatch({ startSequence: 0n, endSequence: 0n, path: name(0, 0) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchTooLargeError);
    expect((error as BatchTooLargeError).size).toBeGreaterThan(1000);
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 2), V4_BLOB);
    const fetcher = fetcherFor(server);
    const reason = new Error('shutdown');
    const info = { startSequence: 0n, endSequence: 2n, path: name(0, 2) };
    await expect(fetcher.getBatch(info, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    await expect(fetcher.listBatches({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('createGcsFetcher: aborts in flight', () => {
  it('rejects a hanging listing and download as soon as the caller aborts', async () => {
    const server = await httpServer(() => undefined); // accepts, never answers
    const fetcher = fetcherFor(server);
    for (const call of [
      (signal: AbortSignal) => fetcher.listBatches({ signal }),
      (signal: AbortSignal) =>
        fetcher.getBatch({ startSequence: 0n, endSequence: 0n, path: name(0, 0) }, { signal }),
    ]) {
      const controller = new AbortController();
      const reason = new Error('shutdown');
      setTimeout(() => controller.abort(reason), 30);
      const started = Date.now();
      await expect(call(controller.signal)).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });
});

describe('createGcsFetcher: getMessage and getLatestSequence', () => {
  it('reads messages from the containing batch, downloading it once', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 2), V4_BLOB);
    const fetcher = fetcherFor(server);
    for (const i of [0, 1, 2]) expect(await fetcher.getMessage(BigInt(i))).toEqual(v4Message(i));
    expect(server.requests().filter((r) => r.query.alt === 'media')).toHaveLength(1);
    expect(listQueries(server)).toHaveLength(1);
    // Past the known range: one incremental listing, then absent.
    expect(await fetcher.getMessage(3n)).toBeNull();
    expect(listQueries(server)).toHaveLength(2);
    expect(listQueries(server)[1]!.startOffset).toBe(name(0, 2));
  });

  it('finds a batch published after the first lookup', async () => {
    const server = await gcsServer();
    const fetcher = fetcherFor(server);
    expect(await fetcher.getMessage(1n)).toBeNull();
    await server.putObject(BUCKET, name(0, 2), V4_BLOB);
    expect(await fetcher.getMessage(1n)).toEqual(v4Message(1));
  });

  it('returns null when a listed batch vanished before the download', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 2), V4_BLOB);
    const fetcher = fetcherFor(server);
    expect(await fetcher.getLatestSequence()).toBe(2n);
    await server.deleteObject(BUCKET, name(0, 2));
    expect(await fetcher.getMessage(0n)).toBeNull();
  });

  it('reports the highest end as the latest sequence, refreshing incrementally', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 3);
    const fetcher = fetcherFor(server);
    expect(await fetcher.getLatestSequence()).toBe(29n);
    await putBatches(server, 3, 5);
    expect(await fetcher.getLatestSequence()).toBe(49n);
    expect(listQueries(server).map((q) => q.startOffset)).toEqual([undefined, name(20, 29)]);
  });

  it('rejects an overlapping listing instead of guessing (a restarted sequencer)', async () => {
    const server = await gcsServer();
    await server.putObject(BUCKET, name(0, 9), new Uint8Array([1]));
    await server.putObject(BUCKET, name(5, 14), new Uint8Array([1]));
    await expect(fetcherFor(server).getLatestSequence()).rejects.toMatchObject({
      code: 'BATCH_OVERLAP',
    });
  });
});

describe('createGcsFetcher: hostile or failing servers', () => {
  function errorServer(status: number) {
    return httpServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: status, message: 'denied', errors: [] } }));
    });
  }

  it('reports a denied listing and download as GcsRequestError with the status', async () => {
    const server = await errorServer(403);
    const fetcher = fetcherFor(server);
    const listError = await fetcher.listBatches().catch((e: unknown) => e);
    expect(listError).toBeInstanceOf(GcsRequestError);
    expect((listError as GcsRequestError).status).toBe(403);
    expect((listError as GcsRequestError).code).toBe('GCS_REQUEST');
    const readError = await fetcher
      .getBatch({ startSequence: 0n, endSequence: 0n, path: name(0, 0) })
      .catch((e: unknown) => e);
    expect(readError).toBeInstanceOf(GcsRequestError);
    expect((readError as GcsRequestError).status).toBe(403);
    expect((readError as GcsRequestError).operation).toContain(`gs://${BUCKET}/${name(0, 0)}`);
  });

  it('reports an unreachable endpoint as GcsRequestError after its own retries', async () => {
    const server = await gcsServer();
    const url = server.url;
    await server.close();
    const error = await createGcsFetcher({
      bucket: BUCKET,
      storage: new Storage({ apiEndpoint: url, projectId: 'test' }),
      maxRetries: 2,
      retryBaseDelayMs: 1,
    })
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    expect(((error as GcsRequestError).cause as HttpTransportError).attempts).toBe(3);
  });

  it('answers a missing bucket (404 on the listing) with an error, not an empty listing', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 404, message: 'The specified bucket does not exist.' } }),
      );
    });
    const error = await fetcherFor(server)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    expect((error as GcsRequestError).status).toBe(404);
  });

  function jsonServer(body: () => unknown) {
    return httpServer((_req, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body()));
    });
  }

  it('stops when the server repeats a page token', async () => {
    const server = await jsonServer(() => ({
      items: [{ name: name(0, 0) }],
      nextPageToken: 'again',
    }));
    const error = await fetcherFor(server)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).message).toMatch(/repeated a page token/);
  });

  it.each([
    ['items that is not an array', { items: { name: 'x' } }],
    ['an item without a name', { items: [{ size: '1' }] }],
    ['an empty page token', { items: [], nextPageToken: '' }],
    ['a numeric page token', { nextPageToken: 7 }],
  ])('rejects a listing with %s', async (_label, page) => {
    const server = await jsonServer(() => page);
    await expect(fetcherFor(server).listBatches()).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('createGcsFetcher: options', () => {
  it('accepts an emulator host with a trailing slash', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 1);
    expect(await fetcherFor({ url: `${server.url}/` }).getLatestSequence()).toBe(9n);
  });

  it("sends the client's credentials when it authenticates (useAuthWithCustomEndpoint), none to an emulator", async () => {
    const seen: (string | undefined)[] = [];
    const server = await httpServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url?.includes('alt=media')) res.writeHead(200).end(Buffer.from(V4_BLOB));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    const authClient = {
      getRequestHeaders: async () => new Headers({ authorization: 'Bearer test-token' }),
    };
    const authenticated = createGcsFetcher({
      bucket: BUCKET,
      storage: new Storage({
        apiEndpoint: server.url,
        projectId: 'test',
        useAuthWithCustomEndpoint: true,
        authClient: authClient as never,
      }),
    });
    const info = { startSequence: 0n, endSequence: 2n, path: name(0, 2) };
    expect(await authenticated.listBatches()).toEqual([]);
    expect(await authenticated.getBatch(info)).toEqual(V4_BLOB);
    expect(seen).toEqual(['Bearer test-token', 'Bearer test-token']);
    await fetcherFor(server).getBatch(info);
    expect(seen.at(-1)).toBeUndefined();
  });

  it('reports a credentials failure as GcsRequestError, without retrying', async () => {
    const server = await httpServer((_req, res) => res.writeHead(200).end('{}'));
    const authClient = {
      getRequestHeaders: async () => {
        throw new Error('Could not load the default credentials');
      },
    };
    const error = await createGcsFetcher({
      bucket: BUCKET,
      storage: new Storage({
        apiEndpoint: server.url,
        projectId: 'test',
        useAuthWithCustomEndpoint: true,
        authClient: authClient as never,
      }),
    })
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    expect((error as GcsRequestError).message).toContain('default credentials');
    expect(server.hits).toEqual([]);
  });

  it('uses a preconfigured client and ignores emulatorHost then', async () => {
    const server = await gcsServer();
    await putBatches(server, 0, 1);
    const storage = new Storage({ apiEndpoint: server.url, projectId: 'test' });
    const fetcher = createGcsFetcher({
      bucket: BUCKET,
      storage,
      emulatorHost: 'http://127.0.0.1:1',
    });
    expect(await fetcher.getLatestSequence()).toBe(9n);
    expect(fetcher.kind).toBe('gcs');
  });

  it.each([
    { bucket: '' },
    { bucket: BUCKET, emulatorHost: '127.0.0.1:4443' },
    { bucket: BUCKET, emulatorHost: 'ftp://127.0.0.1' },
    { bucket: BUCKET, emulatorHost: 'http://x', pageSize: 0 },
    { bucket: BUCKET, emulatorHost: 'http://x', pageSize: 1001 },
    { bucket: BUCKET, emulatorHost: 'http://x', maxBatchBytes: 0 },
    { bucket: BUCKET, emulatorHost: 'http://x', maxDecompressedBytes: 1.5 },
    { bucket: BUCKET, emulatorHost: 'http://x', timeoutMs: 0 },
    { bucket: BUCKET, emulatorHost: 'http://x', maxRetries: 101 },
    { bucket: BUCKET, emulatorHost: 'http://x', retryBaseDelayMs: 100, retryMaxDelayMs: 10 },
  ])('rejects invalid options %#', (options) => {
    expect(() => createGcsFetcher(options)).toThrow(FetcherConfigError);
  });
});

describe('createGcsFetcher: the devnet layout', () => {
  it('reads a directory written with writeBatchFile, served as a bucket', async () => {
    const dir = tempDir('synddb-gcs-dir-');
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    const server = await gcsServer({ backing: { directory: dir, bucket: BUCKET } });
    const fetcher = fetcherFor(server);
    expect(await fetcher.getMessage(2n)).toEqual(v4Message(2));
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(
      await createGcsFetcher({ bucket: 'other', emulatorHost: server.url }).listBatches(),
    ).toEqual([]);
  });
});
