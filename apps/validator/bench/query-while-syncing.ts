/**
 * pnpm bench (apps/validator): point-query latency of a real synddb-validator (POST /query on
 * 127.0.0.1, a 100,000-row table) at a fixed request rate, open loop, p50/p99, and the catch-up
 * throughput the queries leave to the sync engine, all in one run:
 *
 *   1. caught up (only the snapshot in storage): BENCH_IDLE_RATE req/s (2,000);
 *   2. catching up a backlog at full speed with no queries (the throughput baseline), and
 *   3. the same catch-up from a fresh replica with BENCH_RATE req/s (500) of point queries;
 *      2 and 3 alternate BENCH_ROUNDS times (2), each on a fresh replica.
 *
 * Goals (issue 13): caught up p99 <= 2 ms; catching up p99 <= 10 ms, 0 errors, throughput >= 0.8x
 * of the same catch-up with no queries. The queries are sent from a worker thread
 * (bench/point-query-load.ts), not from this thread, which runs the validator (its sync engine):
 * latency counts from each request's scheduled send time, so a slow answer does not hold back
 * the next request. The sequencer's storage API runs in its own process
 * (packages/sync/bench/storage-server.ts).
 *
 * Env: V8_POOL_SIZE (the binary's setting, auto; it relaunches this process as the binary does),
 * BENCH_POINT_READS (1; 0 = every query to a worker), BENCH_V8_NICENESS (the validator's
 * V8_BACKGROUND_NICENESS, 10; 0 = normal priority), BENCH_CLIENT (raw; node-http),
 * BENCH_IDLE_RATE (2000 req/s), BENCH_RATE (500 req/s), BENCH_SECONDS (5), BENCH_ROWS
 * (100000 rows in the snapshot), BENCH_BACKLOG (20000 messages of 200 row changes), BENCH_ROUNDS (2).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@synddb/app-kit';
import { readDatabaseImage } from '@synddb/devnet';
// The sequencer's storage API in its own process (a bench helper of @synddb/sync).
import { startStorageServer } from '../../../packages/sync/bench/storage-server-client';
import { startValidator, type ValidatorHandle } from '../src/start-validator';
import { currentV8PoolSize, relaunchForV8PoolSize } from '../src/v8-pool';
import type { LoadReport, LoadRequest } from './point-query-load';

const IDLE_RATE = Number(process.env.BENCH_IDLE_RATE ?? 2000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 20000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
// As the synddb-validator binary does: relaunch with its V8 pool size (V8_POOL_SIZE, default auto).
relaunchForV8PoolSize();
// BENCH_MAIN_NICE=N: this (the sync engine's) thread at niceness N (Linux: this thread only).
if (process.env.BENCH_MAIN_NICE !== undefined) setPriority(Number(process.env.BENCH_MAIN_NICE));
const driverVersion = createRequire(import.meta.url)('better-sqlite3/package.json').version;
const root = mkdtempSync(join(tmpdir(), 'validator-query-bench-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

// The application: a snapshot with ROWS accounts, then BACKLOG transactions of 200 changes.
const source = new DatabaseSync(join(root, 'source.db'));
source.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
  CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, memo TEXT);`);
source.exec('BEGIN');
const seed = source.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
for (let i = 1; i <= ROWS; i++) seed.run(i, `owner-${i}`, 1000, 'x'.repeat(40));
source.exec('COMMIT');
const image = readDatabaseImage(source);
const update = source.prepare('UPDATE accounts SET balance = balance + 1, memo = ? WHERE id = ?');
const insert = source.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
const changesets: Uint8Array[] = [];
let nextId = ROWS + 1;
// BENCH_ROUNDS=0 measures only the caught-up window: no backlog to build.
for (let m = 0; m < (ROUNDS > 0 ? BACKLOG : 0); m++) {
  const session = source.createSession();
  source.exec('BEGIN');
  for (let i = 0; i < 150; i++) update.run(`m${m}`, 1 + ((m * 150 + i) % ROWS));
  for (let i = 0; i < 50; i++) {
    insert.run(nextId, `owner-${nextId}`, 1, null);
    nextId++;
  }
  source.exec('COMMIT');
  changesets.push(session.changeset());
  session.close();
}
source.close();

async function validatorFor(name: string, server: { url: string; pubkey: string }) {
  return startValidator(
    {
      sequencerUrl: server.url,
      sequencerPubkey: server.pubkey,
      databasePath: join(root, `${name}.db`),
      bindAddress: '127.0.0.1:0',
      syncInterval: '20ms',
      // one client sends every query: no per-client caps
      maxConnectionsPerClient: 0,
      queryMaxInFlightPerClient: 0,
      // BENCH_POINT_READS=0: every query goes to a query worker
      queryPointReads: process.env.BENCH_POINT_READS !== '0',
      // BENCH_V8_NICENESS=0: V8's background threads stay at normal priority (the default is 10;
      // once set in this process, a later validator cannot set it back)
      ...(process.env.BENCH_V8_NICENESS === undefined
        ? {}
        : { v8BackgroundNiceness: Number(process.env.BENCH_V8_NICENESS) }),
    },
    { logger: createLogger({ json: true, level: 'error', write: () => {} }) },
  );
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

interface Measured extends LoadReport {
  /**
   * CPU time of this thread (the validator's main thread: sync, and HTTP and query dispatch when
   * they run here) per query answered, in us: a cost that a loaded machine inflates far less than
   * latency.
   */
  mainCpuUsPerQuery: number;
  /**
   * CPU time of this process's threads but the load generator's (main, API and prepare threads,
   * libuv) per query answered, in us. The query worker processes are not counted.
   */
  processCpuUsPerQuery: number;
  /** CPU time of the query worker processes per query answered, in us (10 ms ticks). */
  workersCpuUsPerQuery: number;
}

/**
 * CPU time (us) used so far by this process's query worker processes and their spawner (Linux
 * /proc, 10 ms ticks; 0 elsewhere): point queries cost there too, not only in this process.
 */
function queryWorkersCpuUs(): Map<string, number> {
  const children = (pid: string): string[] => {
    try {
      return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
        readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean),
      );
    } catch {
      return [];
    }
  };
  const ticks = new Map<string, number>();
  const walk = (pid: string, counted: boolean): void => {
    for (const child of children(pid)) {
      let isQuery = counted;
      try {
        isQuery ||= /worker-spawner|query-worker/.test(
          readFileSync(`/proc/${child}/cmdline`, 'utf8'),
        );
        const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // utime + stime, in 10 ms ticks
        if (isQuery) ticks.set(child, (Number(fields[11]) + Number(fields[12])) * 10_000);
      } catch {
        continue;
      }
      walk(child, isQuery);
    }
  };
  walk(String(process.pid), false);
  return ticks;
}

/** CPU used between two readings, by processes alive at the second (a worker replaced in between loses its share). */
function cpuSince(before: Map<string, number>, after: Map<string, number>): number {
  let us = 0;
  for (const [pid, now] of after) us += now - (before.get(pid) ?? 0);
  return us;
}

/** Open-loop point queries at `rate` for SECONDS from a worker thread. */
function measure(validator: ValidatorHandle, rate: number): Promise<Measured> {
  const request: LoadRequest = { url: validator.url, rate, seconds: SECONDS, rows: ROWS };
  const worker = new Worker(new URL('./point-query-load.ts', import.meta.url), {
    workerData: request,
  });
  const cpu = process.threadCpuUsage();
  const processCpu = process.cpuUsage();
  const workersCpu = queryWorkersCpuUs();
  return new Promise((resolve, reject) => {
    worker.once('message', (report: LoadReport) => {
      const used = process.threadCpuUsage(cpu);
      const all = process.cpuUsage(processCpu);
      const answered = Math.max(1, report.latencies.length + report.errors);
      resolve({
        ...report,
        mainCpuUsPerQuery: (used.user + used.system) / answered,
        processCpuUsPerQuery: (all.user + all.system - report.cpuUs) / answered,
        workersCpuUsPerQuery: cpuSince(workersCpu, queryWorkersCpuUs()) / answered,
      });
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const fmt = (n: number) => n.toFixed(2);

// 1) caught up: only the snapshot in storage
const idleServer = await startStorageServer(join(root, 'idle.bin'), image, []);
const idle = await validatorFor('idle', idleServer);
await waitFor(() => idle.status().lastSequence === idleServer.head);
await measure(idle, Math.min(IDLE_RATE, 200)); // warm-up: connections, statement caches
const quiet = await measure(idle, IDLE_RATE);
/** Point queries answered on the API thread (QUERY_POINT_READS), from the validator's /metrics. */
async function pointReadsOf(validator: ValidatorHandle): Promise<number> {
  const text = await (await fetch(new URL('/metrics', validator.url))).text();
  return Number(/^synddb_query_point_reads_total (\d+)/m.exec(text)?.[1] ?? 0);
}
const quietPointReads = await pointReadsOf(idle);
await idle.stop();
idleServer.stop();

// 2) + 3) the same catch-up without and with queries, alternating, each on a fresh replica
interface CatchUp {
  rate: number;
  report: Measured | null;
  messages: bigint;
  seconds: number;
  stillBehind: boolean;
  loopDelayP99: number;
  /** Share of POST /query answers the server itself took over 10 ms for (its own histogram). */
  serverOver10ms: number;
}

/**
 * From the validator's `axum_http_requests_duration_seconds` (POST /query, 200): the share of
 * answers that took the server over 10 ms from request to response, which tells the server's
 * own delays from those of the machine (scheduling, the load generator) in the client's numbers.
 */
async function serverShareOver10ms(validator: ValidatorHandle): Promise<number> {
  const text = await (await fetch(new URL('/metrics', validator.url))).text();
  const series = (suffix: string, le?: string) => {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`axum_http_requests_duration_seconds_${suffix}{`)) continue;
      if (!line.includes('endpoint="/query"') || !line.includes('status="200"')) continue;
      if (le !== undefined && !line.includes(`le="${le}"`)) continue;
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return 0;
  };
  const count = series('count');
  return count === 0 ? 0 : 1 - series('bucket', '0.01') / count;
}
const server = await startStorageServer(join(root, 'backlog.bin'), image, changesets);
let run = 0;
async function catchUp(rate: number): Promise<CatchUp> {
  const validator = await validatorFor(`catch-up-${run++}`, server);
  await waitFor(() => (validator.status().lastSequence ?? -1n) >= 0n);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const before = validator.status().lastSequence ?? 0n;
  const started = performance.now();
  let report: Measured | null = null;
  let serverOver10ms = 0;
  if (rate > 0) {
    report = await measure(validator, rate);
    serverOver10ms = await serverShareOver10ms(validator);
  } else await sleepFor(SECONDS * 1000);
  const seconds = (performance.now() - started) / 1000;
  const after = validator.status().lastSequence ?? 0n;
  loopDelay.disable();
  await validator.stop();
  return {
    rate,
    report,
    serverOver10ms,
    messages: after - before,
    seconds,
    stillBehind: after < server.head,
    loopDelayP99: loopDelay.percentile(99) / 1e6,
  };
}
const sleepFor = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alone: CatchUp[] = [];
const loaded: CatchUp[] = [];
for (let round = 0; round < ROUNDS; round++) {
  alone.push(await catchUp(0));
  loaded.push(await catchUp(RATE));
}
server.stop();

const perSecond = (c: CatchUp) => Number(c.messages) / c.seconds;
const row = (name: string, rate: number, r: Measured | null, c?: CatchUp) => ({
  run: name,
  'req/s': rate,
  'p50 ms': r === null ? '-' : fmt(pct(r.latencies, 50)),
  'p99 ms': r === null ? '-' : fmt(pct(r.latencies, 99)),
  'max ms': r === null ? '-' : fmt(r.latencies.at(-1) ?? Number.NaN),
  ok: r?.latencies.length ?? '-',
  errors: r?.errors ?? '-',
  'CPU us/query main': r === null ? '-' : Math.round(r.mainCpuUsPerQuery),
  'CPU us/query process': r === null ? '-' : Math.round(r.processCpuUsPerQuery),
  'CPU us/query workers': r === null ? '-' : Math.round(r.workersCpuUsPerQuery),
  'CPU us/query client':
    r === null ? '-' : Math.round(r.cpuUs / Math.max(1, r.latencies.length + r.errors)),
  'msgs/s': c === undefined ? '-' : Math.round(perSecond(c)),
  'loop p99 ms': c === undefined ? '-' : fmt(c.loopDelayP99),
  'server >10 ms':
    c === undefined || c.rate === 0 ? '-' : `${(100 * c.serverOver10ms).toFixed(2)}%`,
  behind: c === undefined ? '-' : c.stillBehind ? 'yes' : 'NO: raise BENCH_BACKLOG',
});
console.log(
  `\nsynddb-validator point queries and catch-up, ${SECONDS} s windows, ${ROWS.toLocaleString()} rows, messages of 200 row changes (Node ${process.versions.node}, better-sqlite3 ${driverVersion}, --v8-pool-size ${currentV8PoolSize()})`,
);
console.table([
  row('caught up', IDLE_RATE, quiet),
  ...alone.flatMap((a, i) => [
    row(`catching up, no queries #${i + 1}`, 0, null, a),
    row(`catching up, queries #${i + 1}`, RATE, loaded[i]!.report, loaded[i]),
  ]),
]);
for (const r of [quiet, ...loaded.map((l) => l.report!)]) {
  if (r.samples.length > 0) console.log('errors, e.g.:', r.samples);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const throughput = mean(loaded.map(perSecond)) / mean(alone.map(perSecond));
const loadedP99 = Math.max(...loaded.map((l) => pct(l.report!.latencies, 99)));
const loadedErrors = loaded.reduce((n, l) => n + l.report!.errors, 0);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');
console.log(
  `point reads (answered on the API thread) since start, caught up: ${quietPointReads} of ${quiet.latencies.length + quiet.errors + Math.round(Math.min(IDLE_RATE, 200) * SECONDS)} queries`,
);
console.log(
  `goal caught up p99 <= 2 ms at ${IDLE_RATE} req/s: ${fmt(pct(quiet.latencies, 99))} ms, ${verdict(pct(quiet.latencies, 99) <= 2)}`,
);
if (ROUNDS > 0) {
  console.log(
    `goal catching up p99 <= 10 ms at ${RATE} req/s (worst round): ${fmt(loadedP99)} ms, ${verdict(loadedP99 <= 10)}; errors ${loadedErrors}, ${verdict(loadedErrors === 0)}`,
  );
  console.log(
    `goal catch-up throughput with queries >= 0.8x without: ${fmt(throughput)}x (${Math.round(mean(loaded.map(perSecond)))} vs ${Math.round(mean(alone.map(perSecond)))} msgs/s, means of ${ROUNDS}), ${verdict(throughput >= 0.8)}`,
  );
}
