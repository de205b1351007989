import type { IncomingMessage, ServerResponse } from 'node:http';
import { Storage } from '@google-cloud/storage';
import { type BatchInfo, formatBatchFilename, signedMessageToJson } from '@synddb/protocol';
import { tempDir } from '@synddb/test-support';
import { startGcsTestServer } from '@synddb/test-support/storage';
import { describe, expect, it } from 'vitest';
import { gcsServer, httpServer, V4_BLOB, v4Message } from '../../test/fixtures';
import { BatchIndex } from '../batch-index';
import {
  FallbackExhaustedError,
  FetcherConfigError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
} from '../errors';
import { createFsFetcher } from '../fs/create-fs-fetcher';
import { writeBatchFile } from '../fs/write-batch-file';
import { createGcsFetcher } from '../gcs/create-gcs-fetcher';
import { createHttpFetcher } from '../http/create-http-fetcher';
import type { StorageFetcher } from '../types';
import { createFallbackFetcher } from './create-fallback-fetcher';

const BUCKET = 'synddb-test';
const V4_NAME = `sequencer/batches/${formatBatchFilename(0, 2)}`;
const V4_INFO: BatchInfo = { startSequence: 0n, endSequence: 2n, path: V4_NAME };

/**
 * A sequencer storage API (docs/protocol.md#sequencer-storage-api) on loopback serving the v4 batch (sequences 0..2),
 * or answering every request with `failStatus` while it is set.
 */
async function sequencerApi(options: { empty?: boolean } = {}) {
  const state = { failStatus: 0 };
  const server = await httpServer((req: IncomingMessage, res: ServerResponse) => {
    if (state.failStatus !== 0) return res.writeHead(state.failStatus).end('unavailable');
    const json = (body: string) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    const url = req.url ?? '';
    if (url === '/storage/batches')
      return json(options.empty ? '[]' : '[{"start_sequence":0,"end_sequence":2}]');
    if (url === '/storage/latest')
      return json(options.empty ? '{"sequence":null}' : '{"sequence":2}');
    if (url === '/storage/batches/0' && !options.empty)
      return res.writeHead(200, { 'content-type': 'application/cbor+zstd' }).end(V4_BLOB);
    const message = /^\/storage\/messages\/(\d+)$/.exec(url);
    if (message && !options.empty && Number(message[1]) <= 2)
      return json(signedMessageToJson(v4Message(Number(message[1]))));
    return res.writeHead(404).end();
  });
  return { ...server, state };
}

const httpFetcher = (url: string) =>
  createHttpFetcher({ baseUrl: url, maxRetries: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 2 });

/** A GCS fetcher that does not retry, so a dead endpoint fails at once. */
const gcsFetcher = (url: string) =>
  createGcsFetcher({
    bucket: BUCKET,
    storage: new Storage({ apiEndpoint: url, projectId: 'test' }),
    maxRetries: 0,
  });

/** A GCS endpoint that is gone: a test server started and closed again. */
async function deadGcsUrl(): Promise<string> {
  const server = await startGcsTestServer();
  await server.close();
  return server.url;
}

describe('createFallbackFetcher: GCS primary, sequencer HTTP fallback', () => {
  it('answers from the primary while it is healthy, without touching the fallback', async () => {
    const gcs = await gcsServer();
    await gcs.putObject(BUCKET, V4_NAME, V4_BLOB);
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url), httpFetcher(http.url)]);
    expect(fetcher.kind).toBe('fallback');
    expect(await fetcher.listBatches()).toEqual([V4_INFO]);
    expect(await fetcher.getBatch(V4_INFO)).toEqual(V4_BLOB);
    expect(await fetcher.getMessage(1n)).toEqual(v4Message(1));
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(http.hits).toEqual([]);
  });

  it('fails over to HTTP when GCS is unreachable, and reports each failover', async () => {
    const http = await sequencerApi();
    const events: { operation: string; kind: string; error: unknown }[] = [];
    const fetcher = createFallbackFetcher([gcsFetcher(await deadGcsUrl()), httpFetcher(http.url)], {
      onFailover: (event) => events.push(event),
    });
    const list = await fetcher.listBatches();
    expect(list).toEqual([{ startSequence: 0n, endSequence: 2n, path: '0' }]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'listBatches', kind: 'gcs' });
    expect(events[0]!.error).toBeInstanceOf(GcsRequestError);
    // The HTTP listing's BatchInfo, and the GCS one, both download from the fallback.
    expect(await fetcher.getBatch(list[0]!)).toEqual(V4_BLOB);
    expect(await fetcher.getBatch(V4_INFO)).toEqual(V4_BLOB);
    expect(await fetcher.getMessage(2n)).toEqual(v4Message(2));
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(http.hits).toContain('GET /storage/batches/0');
  });

  it('tries the fallback when the primary lacks a batch (a lagging mirror)', async () => {
    const gcs = await gcsServer(); // empty bucket
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url), httpFetcher(http.url)]);
    expect(await fetcher.getBatch(V4_INFO)).toEqual(V4_BLOB);
    expect(await fetcher.getMessage(0n)).toEqual(v4Message(0));
    expect(await fetcher.getLatestSequence()).toBe(2n);
    // The GCS 404 was asked first.
    expect(gcs.requests().some((r) => r.path.endsWith(V4_NAME) && r.query.alt === 'media')).toBe(
      true,
    );
  });

  it('returns the first successful listing even when it is empty (listings are not merged)', async () => {
    const gcs = await gcsServer();
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url), httpFetcher(http.url)]);
    expect(await fetcher.listBatches()).toEqual([]);
    expect(http.hits).toEqual([]);
  });

  it('returns null only when every source answered "absent"', async () => {
    const gcs = await gcsServer();
    await gcs.putObject(BUCKET, V4_NAME, V4_BLOB);
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url), httpFetcher(http.url)]);
    expect(await fetcher.getMessage(3n)).toBeNull();
    expect(await fetcher.getBatch({ startSequence: 3n, endSequence: 5n, path: '3' })).toBeNull();
    expect(http.hits).toEqual(['GET /storage/messages/3', 'GET /storage/batches/3']);
  });

  it('throws FallbackExhaustedError when one source failed and the others said "absent"', async () => {
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(await deadGcsUrl()), httpFetcher(http.url)]);
    const error = await fetcher.getMessage(9n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FallbackExhaustedError);
    const exhausted = error as FallbackExhaustedError;
    expect(exhausted.code).toBe('FALLBACK_EXHAUSTED');
    expect(exhausted.operation).toBe('getMessage(9)');
    expect(exhausted.errors.map((e) => e.kind)).toEqual(['gcs']);
    expect(exhausted.cause).toBeInstanceOf(GcsRequestError);
  });

  it('throws FallbackExhaustedError with every error when all sources fail', async () => {
    const http = await sequencerApi();
    http.state.failStatus = 500;
    const fetcher = createFallbackFetcher([gcsFetcher(await deadGcsUrl()), httpFetcher(http.url)]);
    const error = (await fetcher.listBatches().catch((e: unknown) => e)) as FallbackExhaustedError;
    expect(error).toBeInstanceOf(FallbackExhaustedError);
    expect(error.errors.map((e) => e.kind)).toEqual(['gcs', 'http']);
    expect(error.errors[0]!.error).toBeInstanceOf(GcsRequestError);
    expect(error.errors[1]!.error).toBeInstanceOf(HttpStatusError);
    expect(error.details).toContain('gcs:');
    expect(error.details).toContain('http:');
  });

  it('keeps a BatchIndex consistent across a failover and back', async () => {
    const gcs = await gcsServer();
    await gcs.putObject(BUCKET, V4_NAME, V4_BLOB);
    const http = await sequencerApi();
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url), httpFetcher(http.url)], {
      failureCooldownMs: 0,
    });
    const index = new BatchIndex();
    expect(await index.refresh(fetcher)).toBe(1);
    // GCS dies: the incremental refresh is answered by HTTP and adds nothing new.
    await gcs.close();
    expect(await index.refresh(fetcher)).toBe(0);
    expect(index.entries()).toEqual([V4_INFO]);
    expect(await fetcher.getBatch(index.find(1n)!)).toEqual(V4_BLOB);
  });
});

describe('createFallbackFetcher: cooldown', () => {
  it('tries a failed source last until the cooldown has passed', async () => {
    const dead = await deadGcsUrl();
    const http = await sequencerApi();
    let clock = 1_000;
    const failovers: string[] = [];
    const fetcher = createFallbackFetcher([gcsFetcher(dead), httpFetcher(http.url)], {
      failureCooldownMs: 5_000,
      now: () => clock,
      onFailover: ({ kind }) => failovers.push(kind),
    });
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(failovers).toEqual(['gcs']);
    // Within the cooldown the healthy fallback goes first: no new GCS failure.
    clock += 4_999;
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(await fetcher.getMessage(1n)).toEqual(v4Message(1));
    expect(failovers).toEqual(['gcs']);
    // After it, GCS is tried first again (and fails again).
    clock += 1;
    expect(await fetcher.getLatestSequence()).toBe(2n);
    expect(failovers).toEqual(['gcs', 'gcs']);
  });

  it('still uses a cooling source when the healthy ones cannot answer', async () => {
    const gcs = await gcsServer();
    await gcs.putObject(BUCKET, V4_NAME, V4_BLOB);
    const http = await sequencerApi();
    const clock = 0;
    const fetcher = createFallbackFetcher([httpFetcher(http.url), gcsFetcher(gcs.url)], {
      now: () => clock,
    });
    http.state.failStatus = 503; // retried once, then a failure: HTTP cools down
    expect(await fetcher.getBatch(V4_INFO)).toEqual(V4_BLOB);
    http.state.failStatus = 0;
    // HTTP is cooling, GCS answers first now.
    const before = http.hits.length;
    expect(await fetcher.getBatch(V4_INFO)).toEqual(V4_BLOB);
    expect(http.hits.length).toBe(before);
    // GCS lacks the message lookup's batch 5: the cooling HTTP source is still asked.
    expect(await fetcher.getMessage(5n)).toBeNull();
    expect(http.hits.at(-1)).toBe('GET /storage/messages/5');
  });

  it('keeps the configured order with a zero cooldown', async () => {
    const http = await sequencerApi();
    const failovers: string[] = [];
    const fetcher = createFallbackFetcher([gcsFetcher(await deadGcsUrl()), httpFetcher(http.url)], {
      failureCooldownMs: 0,
      onFailover: ({ kind }) => failovers.push(kind),
    });
    await fetcher.getLatestSequence();
    await fetcher.getLatestSequence();
    expect(failovers).toEqual(['gcs', 'gcs']);
  });
});

describe('createFallbackFetcher: fs primary, HTTP fallback', () => {
  it('reads a local archive first and the sequencer for what it lacks', async () => {
    const dir = tempDir('synddb-fallback-');
    const http = await sequencerApi();
    const fs = createFsFetcher({ directory: dir });
    const fetcher = createFallbackFetcher([fs, httpFetcher(http.url)]);
    // Empty archive: absent locally, found remotely.
    expect(await fetcher.getMessage(1n)).toEqual(v4Message(1));
    expect(http.hits).toEqual(['GET /storage/messages/1']);
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    http.state.failStatus = 500; // the sequencer is down now: the archive suffices
    expect(await fetcher.getMessage(2n)).toEqual(v4Message(2));
    expect(await fetcher.getBatch({ startSequence: 0n, endSequence: 2n, path: '0' })).toEqual(
      V4_BLOB,
    );
    expect(http.hits).toEqual(['GET /storage/messages/1']);
  });

  it('fails over from an unreachable sequencer to the archive', async () => {
    const dir = tempDir('synddb-fallback-');
    await writeBatchFile(dir, 'sequencer', 0n, 2n, V4_BLOB);
    const http = await sequencerApi();
    const url = http.url;
    await http.close();
    const errors: unknown[] = [];
    const fetcher = createFallbackFetcher([httpFetcher(url), createFsFetcher({ directory: dir })], {
      onFailover: ({ error }) => errors.push(error),
    });
    expect(await fetcher.listBatches()).toEqual([V4_INFO]);
    expect(errors[0]).toBeInstanceOf(HttpTransportError);
  });
});

describe('createFallbackFetcher: calls and options', () => {
  it('stops on a caller abort instead of failing over', async () => {
    const slow = await httpServer(() => undefined); // never answers
    const http = await sequencerApi();
    const failovers: string[] = [];
    const fetcher = createFallbackFetcher([httpFetcher(slow.url), httpFetcher(http.url)], {
      onFailover: ({ kind }) => failovers.push(kind),
    });
    const controller = new AbortController();
    const reason = new Error('shutdown');
    setTimeout(() => controller.abort(reason), 30);
    await expect(fetcher.getBatch(V4_INFO, { signal: controller.signal })).rejects.toBe(reason);
    expect(failovers).toEqual([]);
    expect(http.hits).toEqual([]);
  });

  it('passes `after` through to the source listing', async () => {
    const gcs = await gcsServer();
    await gcs.putObject(BUCKET, V4_NAME, V4_BLOB);
    await gcs.putObject(BUCKET, `sequencer/batches/${formatBatchFilename(3, 4)}`, V4_BLOB);
    const fetcher = createFallbackFetcher([gcsFetcher(gcs.url)]);
    expect((await fetcher.listBatches({ after: V4_INFO })).map((b) => b.startSequence)).toEqual([
      3n,
    ]);
    const lists = gcs.requests().filter((r) => r.path === `/storage/v1/b/${BUCKET}/o`);
    expect(lists.at(-1)?.query.startOffset).toBe(V4_NAME);
  });

  it.each([
    [[], {}],
    [[{} as StorageFetcher], { failureCooldownMs: -1 }],
    [[{} as StorageFetcher], { failureCooldownMs: Number.NaN }],
  ])('rejects invalid configuration %#', (sources, options) => {
    expect(() => createFallbackFetcher(sources, options)).toThrow(FetcherConfigError);
  });
});
