/**
 * The main API runs on its own thread (issue 13): reads never wait for the sync engine's apply
 * slices on the main thread. Probes are sent and timed from another thread: this one runs the
 * engine, so anything it measured would include the slices it waits for.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@synddb/app-kit';
import { type DevnetWithApp, startDevnetWithApp } from '@synddb/devnet';
import type { ValidationRule } from '@synddb/sync';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const quiet = () => createLogger({ json: true, level: 'error', write: () => {} });

async function devnetWithTraffic(transactions: number, seed: number): Promise<DevnetWithApp> {
  const devnet = await startDevnetWithApp({
    directory: tempDir('validator-api-thread-'),
    onCleanup,
  });
  await devnet.app.runWorkload({ transactions, seed, snapshotEvery: 0, withdrawals: false });
  devnet.sequencer.flush();
  return devnet;
}

async function sequencerHead(url: string): Promise<bigint> {
  const status = (await (await fetch(`${url}/status`)).json()) as { current_sequence: number };
  return BigInt(status.current_sequence - 1);
}

function start(devnet: DevnetWithApp, extra: Record<string, unknown>, rules?: ValidationRule[]) {
  return startValidator(
    {
      sequencerUrl: devnet.url,
      sequencerPubkey: devnet.sequencer.pubkeyHex,
      databasePath: join(devnet.directory, 'replica.db'),
      bindAddress: '127.0.0.1:0',
      syncInterval: '20ms',
      batchIndexRefreshInterval: '100ms',
      verifyThreads: 0,
      queryWorkers: 2,
      ...extra,
    },
    { logger: quiet(), ...(rules === undefined ? {} : { validationRules: rules }) },
  ).then((validator) => {
    onCleanup(() => validator.stop());
    return validator;
  });
}

/** Probe results: latency, and whether the answer came while the same rule call still ran. */
interface Probe {
  path: string;
  status: number;
  ms: number;
  sameSlice: boolean;
}

// A prober in its own thread: waits until the main thread is inside the slow rule, sends one
// request, and notes whether the answer arrived before that rule call returned.
const PROBER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const { url, shared, probes } = workerData;
const state = new Int32Array(shared); // [0] inside the rule, [1] rule calls so far
function send(path, body) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      agent: false,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const giveUp = performance.now() + 20000; // no slow slice left: report what was seen
(async () => {
  const out = [];
  for (const probe of probes) {
    while (Atomics.load(state, 0) !== 1) {
      if (performance.now() > giveUp) return parentPort.postMessage(out);
      await new Promise((r) => setTimeout(r, 1));
    }
    const slice = Atomics.load(state, 1);
    const answer = await send(probe.path, probe.body);
    const sameSlice = Atomics.load(state, 0) === 1 && Atomics.load(state, 1) === slice;
    out.push({ path: probe.path, status: answer.status, ms: answer.ms, sameSlice });
    // the next probe waits for the next rule call
    while (Atomics.load(state, 1) === slice && performance.now() < giveUp) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  parentPort.postMessage(out);
})();
`;

describe('the API thread', { timeout: 90_000 }, () => {
  it('answers /health, /status and point queries while the applier holds the main thread', async () => {
    const devnet = await devnetWithTraffic(40, 5);
    const head = await sequencerHead(devnet.url);
    const shared = new SharedArrayBuffer(12);
    const state = new Int32Array(shared);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const SLOW_MS = 400;
    const first = 10n;
    // Blocks the main thread (without burning a core) inside the apply transaction.
    const slowRule: ValidationRule = {
      name: 'slow',
      validate: (_db, { sequence }) => {
        if (sequence >= first && sequence < first + 12n) {
          Atomics.store(state, 0, 1);
          Atomics.wait(sleeper, 0, 0, SLOW_MS);
          Atomics.store(state, 0, 0);
          Atomics.add(state, 1, 1);
        }
        return { ok: true };
      },
    };
    const validator = await start(devnet, { maxMessagesPerTransaction: 1 }, [slowRule]);
    const point = { sql: 'SELECT id, balance FROM accounts WHERE id = ?', params: [1] };
    // warm-up: the first query of a worker prepares its connection
    for (let i = 0; i < 4; i++) {
      await fetch(`${validator.url}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(point),
      });
    }
    const probes = [
      { path: '/health' },
      { path: '/query', body: point },
      { path: '/status' },
      { path: '/health' },
      { path: '/query', body: point },
      { path: '/ready' },
    ];
    const prober = new Worker(PROBER, {
      eval: true,
      workerData: { url: validator.url, shared, probes },
    });
    const results = await new Promise<Probe[]>((resolve, reject) => {
      prober.once('message', resolve);
      prober.once('error', reject);
    });
    await prober.terminate();
    expect(results.length, JSON.stringify(results)).toBe(probes.length);
    for (const probe of results) {
      // answered while the main thread was still inside the same apply slice, and quickly
      expect(probe, JSON.stringify(results)).toMatchObject({ sameSlice: true });
      expect(probe.status === 200 || (probe.path === '/ready' && probe.status === 503)).toBe(true);
      // (100 ms for /health, the bar; a query crosses to a worker process and back)
      expect(probe.ms, JSON.stringify(results)).toBeLessThan(probe.path === '/query' ? 200 : 100);
    }
    await waitFor(() => validator.status().lastSequence === head);
  });

  it('relays WebSocket notifications across the thread boundary in order, none lost, each committed', async () => {
    const devnet = await startDevnetWithApp({
      directory: tempDir('validator-api-ws-'),
      onCleanup,
    });
    const validator = await start(devnet, { maxMessagesPerTransaction: 7 });
    await waitFor(() => validator.status().lastSequence !== null);
    const from = validator.status().lastSequence!;

    const ws = new WebSocket(`${validator.url.replace('http', 'ws')}/ws`);
    onCleanup(() => ws.close());
    const frames: { channel?: string; op?: string; sequence?: number; type?: string }[] = [];
    const notCommitted: number[] = [];
    ws.addEventListener('message', (event) => {
      const frame = JSON.parse(String(event.data)) as (typeof frames)[number];
      // The frame reached this thread after the main thread posted the commit.
      const last = validator.status().lastSequence;
      if (frame.sequence !== undefined && (last === null || BigInt(frame.sequence) > last)) {
        notCommitted.push(frame.sequence);
      }
      frames.push(frame);
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'sequences', id: 1 }));
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'rows', id: 2 }));
    await waitFor(() => frames.filter((f) => f.op === 'subscribed').length === 2);

    await devnet.app.runWorkload({ transactions: 150, seed: 9, snapshotEvery: 60 });
    devnet.sequencer.flush();
    const head = await sequencerHead(devnet.url);
    await waitFor(() =>
      frames.some(
        (f) =>
          f.sequence !== undefined && f.channel === 'sequences' && BigInt(f.sequence!) === head,
      ),
    );

    const sequences = frames
      .filter((f) => f.sequence !== undefined && f.channel === 'sequences')
      .map((f) => f.sequence!);
    // From the first commit the API thread learnt of after the subscription (at most the one
    // after \`from\`: a commit posted before may still have been on its way), every sequence once.
    const first = sequences[0]!;
    expect(first).toBeLessThanOrEqual(Number(from) + 1);
    const expected = Array.from({ length: Number(head) - first + 1 }, (_, i) => first + i);
    expect(sequences).toEqual(expected);
    const rows = frames
      .filter((f) => f.sequence !== undefined && f.channel === 'rows')
      .map((f) => f.sequence!);
    expect(rows.length).toBeGreaterThan(sequences.length);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!).toBeGreaterThanOrEqual(rows[i - 1]!);
    // every changeset message brought its row changes, every snapshot its marker (withdrawals
    // have no rows)
    // (only commits after the rows subscription was confirmed: the main thread starts posting
    // changesets when it confirms, and a commit posted before, e.g. the first snapshot, carries
    // none)
    const changed = new Set(rows);
    const rowsConfirmed = frames.findIndex((f) => f.op === 'subscribed' && f.channel === 'rows');
    expect(rowsConfirmed).toBeGreaterThanOrEqual(0);
    const withoutRows = frames
      .slice(rowsConfirmed + 1)
      .filter(
        (f) =>
          f.sequence !== undefined &&
          f.channel === 'sequences' &&
          !changed.has(f.sequence!) &&
          f.type !== 'withdrawal',
      )
      .map((f) => `${f.sequence}:${f.type}`);
    expect(withoutRows).toEqual([]);
    expect(notCommitted).toEqual([]);
    expect((await validator.subscriptions!.clients()).length).toBe(1);
  });

  it('answers a min_sequence wait as soon as the sequence commits', async () => {
    const devnet = await devnetWithTraffic(10, 3);
    const validator: ValidatorHandle = await start(devnet, {});
    const head = await sequencerHead(devnet.url);
    await waitFor(() => validator.status().lastSequence === head);

    // Three waits, each for the next sequence; the fastest must come within 100 ms of its commit
    // (the slowest tells more about this machine's load than about the wake-up).
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      const target = validator.status().lastSequence! + 1n;
      let committedAt = 0;
      const onApplied = (messages: { sequence: bigint }[]) => {
        if (committedAt === 0 && messages.some((m) => m.sequence >= target)) {
          committedAt = performance.now();
        }
      };
      validator.engine.on('applied', onApplied);
      const asked = performance.now();
      const answer = fetch(`${validator.url}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          sql: 'SELECT count(*) FROM accounts',
          min_sequence: Number(target),
        }),
      }).then(async (res) => ({
        res,
        json: (await res.json()) as { sequence: number },
        at: performance.now(),
      }));
      await new Promise((r) => setTimeout(r, 300));
      await devnet.app.deposit(1, 5n);
      devnet.sequencer.flush();
      const { res, json, at } = await answer;
      validator.engine.off('applied', onApplied);
      expect(res.status).toBe(200);
      expect(json.sequence).toBeGreaterThanOrEqual(Number(target));
      expect(committedAt).toBeGreaterThan(asked + 250);
      delays.push(at - committedAt);
    }
    // woken by the commit event, not by a poll
    expect(Math.min(...delays), JSON.stringify(delays)).toBeLessThan(100);
  });

  it('serves /metrics from both threads: sync and process from main, HTTP and queries from the API thread', async () => {
    const devnet = await devnetWithTraffic(5, 2);
    const validator = await start(devnet, {});
    const head = await sequencerHead(devnet.url);
    await waitFor(() => validator.status().lastSequence === head);
    await fetch(`${validator.url}/query?sql=${encodeURIComponent('SELECT 1')}`);
    const text = await (await fetch(`${validator.url}/metrics`)).text();
    for (const name of [
      'process_cpu_seconds_total',
      'synddb_messages_applied_total',
      'synddb_query_latency_seconds_count',
      'synddb_ws_clients',
      'axum_http_requests_total',
      'synddb_validator_api_thread_restarts_total',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\b`, 'm'));
    }
    // no family twice
    const families = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(new Set(families).size).toBe(families.length);
  });
});
