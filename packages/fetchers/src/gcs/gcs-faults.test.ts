import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatBatchFilename } from '@synddb/protocol';
import { waitFor } from '@synddb/test-support';
import type { GcsTestServer } from '@synddb/test-support/storage';
import { describe, expect, it } from 'vitest';
import { FAULT_FETCHER_OPTIONS, STORAGE_FAULTS } from '../../test/fault-cases';
import { gcsServer, httpServer, V4_BLOB } from '../../test/fixtures';
import {
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidResponseError,
  retryAfterOf,
} from '../errors';
import { crc32cBase64 } from './crc32c';
import { createGcsFetcher, type GcsFetcherOptions } from './create-gcs-fetcher';

const BUCKET = 'synddb-test';
const NAME = `sequencer/batches/${formatBatchFilename(0, 2)}`;
const child = fileURLToPath(new URL('../../test/gcs-download-child.ts', import.meta.url));

/** Runs the child against `url` until it exits on its own (or 60 s, then SIGKILL). */
function runChild(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', child, url, BUCKET, NAME, '0', '2'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// googleapis/google-cloud-node#8670: with the client's automatic retries on, one retryable status
// on a download made createReadStream pipe into a destroyed stream, and the process died of an
// unhandled ERR_STREAM_UNABLE_TO_PIPE. Run in a child process, so such a crash is an exit status.
describe('GCS download through the real client, in its own process', () => {
  it.each([{ status: 500 }, { status: 503 }, { status: 429, retryAfter: 1 }])(
    'survives HTTP $status on the download and returns the right bytes',
    async (failure) => {
      const server = await gcsServer();
      await server.putObject(BUCKET, NAME, V4_BLOB);
      server.faults.set([{ on: 'download', fault: { kind: 'status', ...failure }, times: 2 }]);

      const result = await runChild(server.url);
      expect(result.stderr).not.toContain('ERR_STREAM_UNABLE_TO_PIPE');
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe(`ok ${Buffer.from(V4_BLOB).toString('hex')}`);
      expect(server.faults.count({ operation: 'download', kind: 'status' })).toBe(2);
      expect(server.requests().filter((r) => r.operation === 'download')).toHaveLength(3);
    },
  );
});

const name = (start: number, end: number) => `sequencer/batches/${formatBatchFilename(start, end)}`;

async function gcsWithBatches(): Promise<GcsTestServer> {
  const server = await gcsServer();
  await server.putObject(BUCKET, NAME, V4_BLOB);
  for (const start of [3, 6, 9]) {
    await server.putObject(BUCKET, name(start, start + 2), new Uint8Array([start]));
  }
  return server;
}

function faultyFetcher(server: GcsTestServer, options: Partial<GcsFetcherOptions> = {}) {
  return createGcsFetcher({
    bucket: BUCKET,
    emulatorHost: server.url,
    pageSize: 2, // two listing pages: a fault can hit either
    ...FAULT_FETCHER_OPTIONS,
    ...options,
  });
}

describe('createGcsFetcher: injected faults', () => {
  it.each(STORAGE_FAULTS)(
    '$name on the first two downloads and listing pages: retried, right bytes, connections released',
    async ({ fault }) => {
      const server = await gcsWithBatches();
      server.faults.set([
        { on: 'list', fault, times: 2 },
        { on: 'download', fault, times: 2 },
      ]);
      const fetcher = faultyFetcher(server);
      const list = await fetcher.listBatches();
      expect(list.map((b) => b.startSequence)).toEqual([0n, 3n, 6n, 9n]);
      expect(await fetcher.getBatch(list[0]!)).toEqual(V4_BLOB);
      expect(await fetcher.getBatch(list[3]!)).toEqual(new Uint8Array([9]));
      expect(server.faults.count({ operation: 'list' })).toBe(2);
      expect(server.faults.count({ operation: 'download' })).toBe(2);
      await waitFor(() => server.inFlight() === 0, 'faulted responses to be released');
    },
  );

  it('fails with GcsRequestError (status, attempts) once a 503 outlasts the retries', async () => {
    const server = await gcsWithBatches();
    server.faults.set([{ on: 'download', fault: { kind: 'status', status: 503 } }]);
    const error = await faultyFetcher(server, { maxRetries: 2 })
      .getBatch({ startSequence: 0n, endSequence: 2n, path: NAME })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    expect((error as GcsRequestError).status).toBe(503);
    expect((error as GcsRequestError).cause).toBeInstanceOf(HttpStatusError);
    expect((error as GcsRequestError).details).toContain('still failing after 3 attempts');
    expect(server.faults.count()).toBe(3);
  });

  it('times out a stalled listing on every attempt, then fails with timedOut and no open request', async () => {
    const server = await gcsWithBatches();
    server.faults.set([{ on: 'list', fault: { kind: 'stall' } }]);
    const error = await faultyFetcher(server, { maxRetries: 1, timeoutMs: 200 })
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    const cause = (error as GcsRequestError).cause as HttpTransportError;
    expect(cause).toBeInstanceOf(HttpTransportError);
    expect(cause.timedOut).toBe(true);
    expect(cause.attempts).toBe(2);
    await waitFor(() => server.inFlight() === 0, 'stalled responses to be released');
  });

  it('waits for a Retry-After within retryMaxDelayMs, then succeeds', async () => {
    const server = await gcsWithBatches();
    server.faults.set([
      { on: 'download', fault: { kind: 'status', status: 429, retryAfter: 1 }, times: 1 },
    ]);
    const started = performance.now();
    const blob = await faultyFetcher(server, { retryMaxDelayMs: 5_000 }).getBatch({
      startSequence: 0n,
      endSequence: 2n,
      path: NAME,
    });
    expect(blob).toEqual(V4_BLOB);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('stops at once when Retry-After exceeds retryMaxDelayMs, and reports the wait', async () => {
    const server = await gcsWithBatches();
    server.faults.set([{ on: 'list', fault: { kind: 'status', status: 503, retryAfter: 120 } }]);
    const error = await faultyFetcher(server)
      .listBatches()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    expect((error as GcsRequestError).status).toBe(503);
    expect((error as GcsRequestError).retryAfterMs).toBe(120_000);
    expect(retryAfterOf(error)).toBe(120_000);
    expect(server.faults.count()).toBe(1);
  });

  it('retries a body whose crc32c does not match x-goog-hash', async () => {
    let calls = 0;
    const good = crc32cBase64(V4_BLOB);
    const http = await httpServer((_req, res) => {
      calls++;
      const body = Buffer.from(V4_BLOB);
      if (calls === 1) body[body.length >> 1]! ^= 0x01; // damaged in transit
      res
        .writeHead(200, {
          'x-goog-hash': `crc32c=${good}`,
          'x-goog-stored-content-encoding': 'identity',
        })
        .end(body);
    });
    const fetcher = createGcsFetcher({
      bucket: BUCKET,
      emulatorHost: http.url,
      retryBaseDelayMs: 1,
    });
    const info = { startSequence: 0n, endSequence: 2n, path: NAME };
    expect(await fetcher.getBatch(info)).toEqual(V4_BLOB);
    expect(calls).toBe(2);
  });

  it('fails with the checksum error when every attempt is damaged', async () => {
    const http = await httpServer((_req, res) =>
      res.writeHead(200, { 'x-goog-hash': 'crc32c=AAAAAA==' }).end(Buffer.from(V4_BLOB)),
    );
    const error = await createGcsFetcher({
      bucket: BUCKET,
      emulatorHost: http.url,
      maxRetries: 1,
      retryBaseDelayMs: 1,
    })
      .getBatch({ startSequence: 0n, endSequence: 2n, path: NAME })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GcsRequestError);
    const transport = (error as GcsRequestError).cause as HttpTransportError;
    expect(transport.attempts).toBe(2);
    expect(transport.cause).toBeInstanceOf(InvalidResponseError);
    expect((transport.cause as InvalidResponseError).message).toContain('crc32c');
  });

  it('survives a seeded mix of every fault on listings and downloads', async () => {
    const server = await gcsWithBatches();
    server.faults.set(
      STORAGE_FAULTS.map(({ fault }) => ({
        on: ['list', 'download'] as const,
        fault,
        probability: 0.05,
      })),
      { seed: 20261130 },
    );
    const fetcher = faultyFetcher(server, { maxRetries: 10 });
    for (let round = 0; round < 5; round++) {
      const list = await fetcher.listBatches();
      expect(list.map((b) => b.startSequence)).toEqual([0n, 3n, 6n, 9n]);
      expect(await fetcher.getBatch(list[0]!)).toEqual(V4_BLOB);
    }
    expect(server.faults.seed).toBe(20261130);
    expect(server.faults.count()).toBeGreaterThan(0);
    await waitFor(() => server.inFlight() === 0, 'faulted responses to be released');
  });
});
