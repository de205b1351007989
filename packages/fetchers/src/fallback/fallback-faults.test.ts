import { formatBatchFilename } from '@synddb/protocol';
import { waitFor } from '@synddb/test-support';
import type { GcsTestServer, HttpFaultProxy } from '@synddb/test-support/storage';
import { describe, expect, it } from 'vitest';
import { FAULT_FETCHER_OPTIONS, STORAGE_FAULTS } from '../../test/fault-cases';
import { faultProxy, gcsServer, httpServer, V4_BLOB } from '../../test/fixtures';
import { FallbackExhaustedError, GcsRequestError, HttpStatusError, retryAfterOf } from '../errors';
import { createGcsFetcher } from '../gcs/create-gcs-fetcher';
import { createHttpFetcher } from '../http/create-http-fetcher';
import { createFallbackFetcher } from './create-fallback-fetcher';

const BUCKET = 'synddb-test';
const NAME = `sequencer/batches/${formatBatchFilename(0, 2)}`;
const INFO = { startSequence: 0n, endSequence: 2n, path: NAME };

/** The v4 batch on a GCS test server and on a sequencer API behind a fault proxy. */
async function twoStores(): Promise<{ gcs: GcsTestServer; http: HttpFaultProxy }> {
  const gcs = await gcsServer();
  await gcs.putObject(BUCKET, NAME, V4_BLOB);
  const upstream = await httpServer((req, res) => {
    if (req.url === '/storage/batches')
      return res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('[{"start_sequence":0,"end_sequence":2}]');
    if (req.url === '/storage/batches/0') return res.writeHead(200).end(V4_BLOB);
    return res.writeHead(404).end();
  });
  const http = await faultProxy(upstream.url);
  return { gcs, http };
}

function fallbackOver(gcs: GcsTestServer, http: HttpFaultProxy, failovers: string[] = []) {
  return createFallbackFetcher(
    [
      createGcsFetcher({
        bucket: BUCKET,
        emulatorHost: gcs.url,
        ...FAULT_FETCHER_OPTIONS,
        maxRetries: 0,
      }),
      createHttpFetcher({ baseUrl: http.url, ...FAULT_FETCHER_OPTIONS }),
    ],
    {
      failureCooldownMs: 0,
      onFailover: ({ kind, operation }) => failovers.push(`${kind} ${operation}`),
    },
  );
}

describe('createFallbackFetcher: injected faults', () => {
  it.each(STORAGE_FAULTS)(
    '$name on every GCS request and the first two HTTP ones: answered by HTTP, then GCS once it heals',
    async ({ fault }) => {
      const { gcs, http } = await twoStores();
      gcs.faults.set([{ on: ['list', 'download'], fault }]);
      http.faults.set([{ on: ['list', 'download'], fault, times: 2 }]);
      const failovers: string[] = [];
      const fetcher = fallbackOver(gcs, http, failovers);
      // HTTP retries inside the call; GCS (no retries) fails over at once.
      expect(await fetcher.listBatches()).toEqual([{ ...INFO, path: '0' }]);
      expect(await fetcher.getBatch(INFO)).toEqual(V4_BLOB);
      expect(failovers).toEqual(['gcs listBatches', 'gcs getBatch(0)']);
      expect(http.faults.count()).toBe(2);

      gcs.faults.clear();
      const before = http.requests().length;
      expect(await fetcher.getBatch(INFO)).toEqual(V4_BLOB);
      expect(http.requests()).toHaveLength(before); // GCS answered
      await waitFor(
        () => gcs.inFlight() === 0 && http.inFlight() === 0,
        'faulted responses to be released',
      );
    },
  );

  it('reports the shortest Retry-After only when every source asked to wait', async () => {
    const { gcs, http } = await twoStores();
    gcs.faults.set([{ on: 'download', fault: { kind: 'status', status: 503, retryAfter: 30 } }]);
    http.faults.set([{ on: 'download', fault: { kind: 'status', status: 429, retryAfter: 60 } }]);
    const fetcher = fallbackOver(gcs, http);
    const error = await fetcher.getBatch(INFO).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FallbackExhaustedError);
    const { errors } = error as FallbackExhaustedError;
    expect(errors.map((e) => e.kind)).toEqual(['gcs', 'http']);
    expect(errors[0]!.error).toBeInstanceOf(GcsRequestError);
    expect(errors[1]!.error).toBeInstanceOf(HttpStatusError);
    expect(retryAfterOf(error)).toBe(30_000);

    // A source that failed without asking to wait may answer on the next try: no hint.
    http.faults.set([{ on: 'download', fault: { kind: 'reset' } }]);
    const second = await fetcher.getBatch(INFO).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(FallbackExhaustedError);
    expect(retryAfterOf(second)).toBeUndefined();
  });
});
