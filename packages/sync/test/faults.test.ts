import { join } from 'node:path';
import { type DevnetWithApp, startDevnetWithApp } from '@synddb/devnet';
import {
  createFallbackFetcher,
  createFsFetcher,
  createHttpFetcher,
  type StorageFetcher,
} from '@synddb/fetchers';
import { createGcsFetcher } from '@synddb/fetchers/gcs';
import { formatBatchFilename } from '@synddb/protocol';
import { nextEvent, onCleanup, tempDir, waitFor } from '@synddb/test-support';
import {
  type FaultRule,
  type GcsTestServer,
  type HttpFaultProxy,
  startGcsTestServer,
  startHttpFaultProxy,
  storageFaults,
} from '@synddb/test-support/storage';
import { parseSequencerPubkey } from '@synddb/verifier';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SyncEvents } from '../src/index';
import { dumpReplica, dumpSource, startEngine, type TableDump, waitForSequence } from './support';

const BUCKET = 'devnet';
/**
 * Per-attempt timeout of the fetchers in the fault matrix: slow (20 x 150 ms) and stalled bodies
 * exceed it, a healthy loopback request is far below it even on a loaded machine. Tests that
 * inject no slow fault use a longer one, so that load alone never adds a failure to what they
 * count.
 */
const TIMEOUT_MS = 1000;
const RELAXED_TIMEOUT_MS = 10_000;

/** Every way storage fails (slow bodies take 20 x 150 ms); each is injected on listings and downloads. */
const FAULTS = storageFaults({ slowBodyIntervalMs: 150 });

type Kind = 'http' | 'gcs' | 'fallback';
const KINDS: readonly Kind[] = ['http', 'gcs', 'fallback'];

/**
 * One devnet for the whole file (its stream does not change after setup): the sequencer's
 * storage API behind a fault proxy, and its GCS-layout mirror served by a GCS test server.
 */
let devnet: DevnetWithApp;
let pubkey: Uint8Array;
let head: bigint;
let source: TableDump;
let batches: { startSequence: bigint; endSequence: bigint }[];
let bucketDirectory: string;
let gcs: GcsTestServer;
let proxy: HttpFaultProxy;

// Registered in beforeAll, so these cleanups run after the file.
beforeAll(async () => {
  const directory = tempDir('synddb-sync-faults-');
  bucketDirectory = join(directory, 'bucket');
  devnet = await startDevnetWithApp({
    directory,
    onCleanup,
    sequencer: { storage: { gcsDirectory: bucketDirectory } },
  });
  pubkey = parseSequencerPubkey(devnet.sequencer.pubkeyHex);
  await devnet.app.runWorkload({ transactions: 60, seed: 31, snapshotEvery: 25 });
  devnet.sequencer.flush();
  head = BigInt(devnet.sequencer.storage.latest()!);
  batches = devnet.sequencer.storage.list();
  if (batches.length < 4) throw new Error('expected several batches');
  source = dumpSource(devnet.app.db);
  gcs = await startGcsTestServer({ backing: { directory: bucketDirectory, bucket: BUCKET } });
  onCleanup(() => gcs.close());
  proxy = await startHttpFaultProxy({ upstream: devnet.url });
  onCleanup(() => proxy.close());
});

afterEach(() => {
  gcs.faults.clear();
  proxy.faults.clear();
});

function fetcherOf(kind: Kind, timeoutMs = RELAXED_TIMEOUT_MS): StorageFetcher {
  const transport = { timeoutMs, maxRetries: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5 };
  const http = () => createHttpFetcher({ baseUrl: proxy.url, ...transport });
  const bucket = () => createGcsFetcher({ bucket: BUCKET, emulatorHost: gcs.url, ...transport });
  if (kind === 'http') return http();
  if (kind === 'gcs') return bucket();
  return createFallbackFetcher([bucket(), http()], { failureCooldownMs: 200 });
}

/** The storage servers a fetcher kind reads, where its faults go. */
function serversOf(kind: Kind): { faults: GcsTestServer['faults']; inFlight(): number }[] {
  return kind === 'http' ? [proxy] : kind === 'gcs' ? [gcs] : [gcs, proxy];
}

function setFaults(kind: Kind, rules: (server: 'gcs' | 'http') => FaultRule[]): void {
  if (kind !== 'http') gcs.faults.set(rules('gcs'));
  if (kind !== 'gcs') proxy.faults.set(rules('http'));
}

/** Downloads of the batch starting at `start`, on either server. */
function batchPath(server: 'gcs' | 'http', batch: { startSequence: bigint; endSequence: bigint }) {
  return server === 'gcs'
    ? formatBatchFilename(batch.startSequence, batch.endSequence)
    : new RegExp(`/storage/batches/${batch.startSequence}$`);
}

/** Faults served by `server` from now on (its `count()` is cumulative over the whole file). */
function servedFrom(
  server: { faults: GcsTestServer['faults'] },
  filter: Parameters<GcsTestServer['faults']['count']>[0] = {},
): () => number {
  const before = server.faults.count(filter);
  return () => server.faults.count(filter) - before;
}

/** Every `event` the engine emits from now on. */
function record<K extends 'halted' | 'retrying'>(
  engine: ReturnType<typeof startEngine>['engine'],
  event: K,
): SyncEvents[K][0][] {
  const seen: SyncEvents[K][0][] = [];
  engine.on(event, ((value: SyncEvents[K][0]) => {
    seen.push(value);
  }) as never);
  return seen;
}

describe.each(KINDS)('sync through a faulty %s store', (kind) => {
  it.each(FAULTS)(
    'replicates row by row through $name on listings and downloads',
    async ({ fault }) => {
      // 3 faults with 2 attempts per call: the fetcher's own retry fails once, the engine's does not.
      setFaults(kind, () => [{ on: ['list', 'download'], fault, times: 3 }]);
      const servers = serversOf(kind);
      const served = servers.map((server) => servedFrom(server));
      const { engine, db } = startEngine({ fetcher: fetcherOf(kind, TIMEOUT_MS), pubkey });
      const retries = record(engine, 'retrying');
      const halts = record(engine, 'halted');
      await waitForSequence(engine, head, 60_000);
      expect(dumpReplica(db)).toEqual(source);
      expect(engine.status().halt).toBeNull();
      expect(halts).toEqual([]);
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries.every((r) => r.kind === 'storage')).toBe(true);
      // Every fault was served (a fallback may leave some of its HTTP source's unused).
      expect(served[0]!()).toBe(3);
      await waitFor(() => servers.every((s) => s.inFlight() === 0), {
        timeoutMs: 10_000,
        what: 'released requests',
      });
    },
  );

  it('halts at a batch whose downloads outlast GAP_RETRY_COUNT, reports it, and heals once storage does', async () => {
    const middle = batches[Math.floor(batches.length / 2)]!;
    setFaults(kind, (server) => [
      { on: 'download', path: batchPath(server, middle), fault: { kind: 'status', status: 503 } },
    ]);
    const { engine, db } = startEngine({ fetcher: fetcherOf(kind), pubkey, gapRetryCount: 3 });
    const retries = record(engine, 'retrying');
    const [reason] = await nextEvent(engine, 'halted', { timeoutMs: 30_000 });
    expect(reason).toMatchObject({ kind: 'storage', sequence: middle.startSequence, retries: 0 });
    expect(reason.code).toBe(
      kind === 'http' ? 'HTTP_STATUS' : kind === 'gcs' ? 'GCS_REQUEST' : 'FALLBACK_EXHAUSTED',
    );
    // Reported on the 4th failure in a row: after exactly GAP_RETRY_COUNT retries.
    expect(retries.map((r) => r.halted)).toEqual([false, false, false, true]);
    expect(engine.status()).toMatchObject({
      state: 'halted',
      lastSequence: middle.startSequence - 1n,
      halt: { code: reason.code, sequence: middle.startSequence },
    });
    // It keeps retrying while halted, and applies nothing of the batch.
    await waitFor(() => (engine.status().halt?.retries ?? 0) >= 2, {
      timeoutMs: 15_000,
      what: 'retries while halted',
    });
    expect(engine.status().lastSequence).toBe(middle.startSequence - 1n);

    const resumed = nextEvent(engine, 'resumed', { timeoutMs: 30_000 });
    gcs.faults.clear();
    proxy.faults.clear();
    const [info] = await resumed;
    expect(info.previous.code).toBe(reason.code);
    expect(info.sequence).toBe(middle.startSequence);
    await waitForSequence(engine, head, 30_000);
    expect(engine.status().halt).toBeNull();
    expect(dumpReplica(db)).toEqual(source);
  });

  it('reports failing listings while caught up as a halt, and clears it once listings answer', async () => {
    const { engine, db } = startEngine({ fetcher: fetcherOf(kind), pubkey });
    await waitForSequence(engine, head, 30_000);
    await waitFor(() => engine.status().state === 'caught_up', {
      timeoutMs: 10_000,
      what: 'caught up',
    });
    const halted = nextEvent(engine, 'halted', { timeoutMs: 30_000 });
    setFaults(kind, () => [{ on: 'list', fault: { kind: 'reset' } }]);
    const [reason] = await halted;
    expect(reason).toMatchObject({ kind: 'storage', sequence: head + 1n });
    expect(engine.status().state).toBe('halted');

    const resumed = nextEvent(engine, 'resumed', { timeoutMs: 30_000 });
    gcs.faults.clear();
    proxy.faults.clear();
    const [info] = await resumed;
    expect(info).toMatchObject({ sequence: head + 1n, previous: { code: reason.code } });
    await waitFor(() => engine.status().state === 'caught_up', {
      timeoutMs: 10_000,
      what: 'caught up again',
    });
    expect(engine.status().halt).toBeNull();
    expect(dumpReplica(db)).toEqual(source);
  });
});

describe('the engine and its fetchers under faults', () => {
  it.each(KINDS)(
    'replicates in single-message mode through a %s store failing every way in turn',
    async (kind) => {
      const turn: FaultRule[] = (
        [
          { kind: 'status', status: 503 },
          { kind: 'reset-mid-body' },
          { kind: 'truncate' },
          { kind: 'reset' },
        ] as const
      ).map((fault) => ({ on: 'any', fault, times: 1 }));
      setFaults(kind, () => turn);
      const served = servedFrom(serversOf(kind)[0]!);
      const { engine, db } = startEngine({ fetcher: fetcherOf(kind), pubkey, batchSync: false });
      await waitForSequence(engine, head, 60_000);
      expect(dumpReplica(db)).toEqual(source);
      expect(served()).toBe(turn.length);
    },
  );

  it.each(['http', 'gcs'] as const)(
    'aborts the prefetched %s downloads it drops after a failure, releasing a stalled one at once',
    async (kind) => {
      const [, failing, stalled] = batches;
      setFaults(kind, (server) => [
        { on: 'download', path: batchPath(server, stalled!), fault: { kind: 'stall' }, times: 1 },
        {
          on: 'download',
          path: batchPath(server, failing!),
          fault: { kind: 'status', status: 503 },
        },
      ]);
      const server = serversOf(kind)[0]!;
      const stalls = servedFrom(server, { kind: 'stall' });
      // A fetcher timeout far beyond the test, and a first retry pause of at least 2.5 s: only
      // the engine's abort can release the stalled request before the next attempt.
      const { engine, db } = startEngine({
        fetcher: fetcherOf(kind, 60_000),
        pubkey,
        prefetchBatches: 4,
        retryInitialDelayMs: 5000,
        gapRetryDelayMs: 5000,
      });
      const retries = record(engine, 'retrying');
      // All four downloads start together; the stalled one stays open until something closes it.
      await waitFor(() => stalls() === 1, { timeoutMs: 30_000, what: 'the stall' });
      await waitFor(() => server.inFlight() === 0, {
        timeoutMs: 2000,
        what: 'the stalled download to be aborted',
      });
      expect(retries[0]?.sequence).toBe(failing!.startSequence);
      gcs.faults.clear();
      proxy.faults.clear();
      await waitForSequence(engine, head, 30_000);
      expect(dumpReplica(db)).toEqual(source);
    },
  );
});

describe('one retry rule for every store', () => {
  it.each([...KINDS, 'fs'] as const)(
    'a gap in a %s store is retried GAP_RETRY_COUNT times before the halt, like a storage error',
    async (kind) => {
      const middle = batches[Math.floor(batches.length / 2)]!;
      devnet.sequencer.storage.hide(middle.startSequence);
      try {
        const fetcher =
          kind === 'fs' ? createFsFetcher({ directory: bucketDirectory }) : fetcherOf(kind);
        const { engine, db } = startEngine({ fetcher, pubkey, gapRetryCount: 3 });
        const retries = record(engine, 'retrying');
        const [reason] = await nextEvent(engine, 'halted', { timeoutMs: 30_000 });
        expect(reason).toMatchObject({ code: 'SEQUENCE_GAP', sequence: middle.startSequence });
        expect(retries.map((r) => r.halted)).toEqual([false, false, false, true]);
        const resumed = nextEvent(engine, 'resumed', { timeoutMs: 30_000 });
        devnet.sequencer.storage.restoreAll();
        await resumed;
        await waitForSequence(engine, head, 30_000);
        expect(dumpReplica(db)).toEqual(source);
      } finally {
        devnet.sequencer.storage.restoreAll();
      }
    },
  );
});

describe('sync honours Retry-After', () => {
  it.each(['http', 'gcs'] as const)(
    'waits for a %s Retry-After longer than the fetcher retries, up to maxRetryAfterMs',
    async (kind) => {
      const wait = { kind: 'status', status: 429, retryAfter: 1 } as const; // 1000 ms > 5 ms
      const capped = { kind: 'status', status: 503, retryAfter: 3600 } as const;
      setFaults(kind, () => [
        { on: 'list', fault: wait, times: 1 },
        { on: 'list', fault: capped, times: 1 },
      ]);
      const { engine, db } = startEngine({
        fetcher: fetcherOf(kind),
        pubkey,
        maxRetryAfterMs: 1500,
      });
      const retries = record(engine, 'retrying');
      await waitForSequence(engine, head, 30_000);
      expect(retries.map((r) => [r.retryAfterMs, r.delayMs])).toEqual([
        [1000, 1000],
        [3_600_000, 1500],
      ]);
      expect(dumpReplica(db)).toEqual(source);
    },
  );
});

describe('sync through a seeded mix of every fault', () => {
  it('replicates through GCS with an HTTP fallback, both failing at random', async () => {
    // The seeds are printed (stderr); request order varies with prefetching, so a replay is close,
    // not exact. Two certain GCS failures make sure the fallback is exercised too.
    const mix = (probability: number): FaultRule[] =>
      FAULTS.map(({ fault }) => ({ on: ['list', 'download'], fault, probability }));
    const served = servedFrom(gcs);
    gcs.faults.set(
      [{ on: 'download', fault: { kind: 'status', status: 503 }, times: 2 }, ...mix(0.03)],
      { seed: 7 },
    );
    proxy.faults.set(mix(0.03), { seed: 8 });
    const { engine, db } = startEngine({ fetcher: fetcherOf('fallback', TIMEOUT_MS), pubkey });
    await waitForSequence(engine, head, 120_000);
    expect(dumpReplica(db)).toEqual(source);
    expect(served()).toBeGreaterThanOrEqual(2);
    expect(proxy.requests().some((r) => r.operation === 'download')).toBe(true);
    await waitFor(() => gcs.inFlight() === 0 && proxy.inFlight() === 0, {
      timeoutMs: 10_000,
      what: 'released requests',
    });
  });
});
