// Where a one-row message's time goes, per thread: catches up BENCH_ONE_ROW one-row messages over
// HTTP with prepare workers, CPU-profiled on the applying (main) thread and on each prepare worker
// (inspector profiler, started after the workers are ready and stopped at the last commit), and
// prints µs of CPU per message per thread, split by what the profile attributes it to (each
// thread's share of samples scaled to its own CPU clock, so time spent descheduled on a busy
// machine is not counted).
//
//   node --conditions=source --import tsx bench/one-row-profile.ts [engine src dir ...]
//
// With several source directories (e.g. a copy of an older packages/sync/src) the runs alternate
// between them, BENCH_PROFILE_ROUNDS times (default 3), against one storage server, and the
// medians are compared in the same run. `dir,key=value,...` sets options of that source's runs:
// `fetcher=http|memory|node-http` (memory: batches downloaded before the runs and served from
// memory, the applying thread without the download and the storage server idle; node-http: batch
// GETs over node:http instead of fetch, an experiment), anything else goes to the prepare pool
// (e.g. `src,callerDecodeMaxBytes=0`).
//
// Env: BENCH_ONE_ROW (messages, 20000), BENCH_ROWS_PER_MESSAGE (1; more for a check of multi-row
// messages), BENCH_PROFILE_ROUNDS, BENCH_PROFILE_INTERVAL_US (sampling interval, default 250; the
// profiler's own cost grows as it shrinks; 0: no profiler, only the CPU clocks and the rates),
// BENCH_FETCHER (the default fetcher, http), BENCH_PROFILE_DIR (write the .cpuprofile files
// there, for DevTools), BENCH_PROFILE_TOP (list the top self-time functions of each thread),
// BENCH_STATE_ROOT=1 (the engine keeps the state root), BENCH_PREFETCH (prefetchBatches, 8).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { readDatabaseImage } from '@synddb/devnet';
import { createHttpFetcher, type StorageFetcher } from '@synddb/fetchers';
import { keccak256 } from '@synddb/protocol';
import { createSequencerSigner, defaultBackend, parseSequencerPubkey } from '@synddb/verifier';
import BetterSqlite3 from 'better-sqlite3';
import type * as SyncModule from '../src/index';
import { startStorageServer } from './storage-server-client';

const N = Number(process.env.BENCH_ONE_ROW ?? 20000);
/** Rows per message (inserts), 1 unless BENCH_ROWS_PER_MESSAGE says otherwise (a bulk check). */
const ROWS = Math.max(1, Number(process.env.BENCH_ROWS_PER_MESSAGE ?? 1));
const ROUNDS = Math.max(1, Number(process.env.BENCH_PROFILE_ROUNDS ?? 3));
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 0);
/** Sampling interval, µs (both threads); the profiler's own cost grows as it shrinks. 0: none. */
const INTERVAL_US = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 250);
const PROFILING = INTERVAL_US > 0;
process.env.SYNDDB_PROFILE_INTERVAL_US = String(INTERVAL_US);
const here = fileURLToPath(new URL('.', import.meta.url));
const sourceArgs = process.argv.length > 2 ? process.argv.slice(2) : [join(here, '../src')];
// `dir,key=value,...`: prepare pool options for that run (e.g. `src,callerDecodeMaxBytes=0`).
const sources = sourceArgs.map((d) => resolve(d.split(',')[0]!));
// `fetcher=http|memory|node-http` picks the run's fetcher; the other keys go to the pool.
const runOptions = sourceArgs.map((d) =>
  Object.fromEntries(
    d
      .split(',')
      .slice(1)
      .map((kv) => {
        const [key, value] = kv.split('=') as [string, string];
        return [key, value !== '' && Number.isFinite(Number(value)) ? Number(value) : value];
      }),
  ),
) as Record<string, unknown>[];
const fetcherOf = runOptions.map((o) => o.fetcher as string | undefined);
const poolOptions = runOptions.map(({ fetcher: _fetcher, ...pool }) => pool);
const label = (i: number) => `${i}: ${sourceArgs[i]}`;

const root = mkdtempSync(join(tmpdir(), 'synddb-one-row-profile-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

// --- workload: one INSERT per message, as in catch-up.ts part 2 -------------------------------
const source = new DatabaseSync(join(root, 'source.db'));
source.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;');
source.exec(
  'CREATE TABLE items (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, name TEXT, amount REAL, tag BLOB);',
);
const image = readDatabaseImage(source);
const insert = source.prepare(
  'INSERT INTO items (id, account, name, amount, tag) VALUES (?, ?, ?, ?, ?)',
);
const changesets: Uint8Array[] = [];
for (let m = 0, id = 1; m < N; m++) {
  const session = source.createSession();
  source.exec('BEGIN');
  for (let r = 0; r < ROWS; r++, id++) insert.run(id, id % 97, `item ${id}`, id / 3, null);
  source.exec('COMMIT');
  changesets.push(session.changeset());
  session.close();
}
source.close();
const server = await startStorageServer(join(root, 'workload.bin'), image, changesets);
const httpFetcher = createHttpFetcher({ baseUrl: server.url });
/**
 * BENCH_FETCHER=memory: every batch downloaded once before the runs and served from memory, so
 * the applying thread's numbers leave out the HTTP client (and the server process idles).
 */
const fetchers: Record<string, StorageFetcher> = {
  http: httpFetcher,
  memory: await inMemory(httpFetcher),
  'node-http': nodeHttp(httpFetcher),
};
const defaultFetcher = process.env.BENCH_FETCHER ?? 'http';

/**
 * An experiment, not a fetcher to use: batch GETs over node:http (keep-alive, no retries), to
 * measure what undici's fetch costs the applying thread (`dir,fetcher=node-http`).
 */
function nodeHttp(from: StorageFetcher): StorageFetcher {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  return {
    ...from,
    getBatch: (info, { signal } = {}) =>
      new Promise<Uint8Array | null>((resolveGet, reject) => {
        const request = get(
          `${server.url}/storage/batches/${info.startSequence}`,
          { agent, timeout: 30_000, ...(signal ? { signal } : {}) },
          (response) => {
            if (response.statusCode === 404) {
              response.resume();
              resolveGet(null);
              return;
            }
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolveGet(Buffer.concat(chunks)));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
      }),
  };
}

async function inMemory(from: StorageFetcher): Promise<StorageFetcher> {
  const list = await from.listBatches();
  const blobs = new Map<bigint, Uint8Array>();
  for (const info of list) blobs.set(info.startSequence, (await from.getBatch(info))!);
  return {
    ...from,
    kind: 'fs',
    listBatches: async ({ after } = {}) =>
      after === undefined ? list : list.filter((b) => b.startSequence > after.startSequence),
    getBatch: async (info) => blobs.get(info.startSequence) ?? null,
  };
}

/** CPU time of the storage server process so far, µs (Linux /proc; 0 elsewhere). */
function serverCpuUs(): number {
  try {
    const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

// --- profiles ------------------------------------------------------------------------------------
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type Rule = [category: string, test: (name: string, url: string, parent: string) => boolean];

/**
 * What a sample is charged to: the innermost frame of its stack that a rule names (`parent` is
 * the calling function's name); the fallback rules only when no frame of the stack matched one.
 */
const RULES: Rule[] = [
  ['gc', (n) => n === '(garbage collector)'],
  ['(program): native, outside JS', (n) => n === '(program)'],
  // prepare worker
  ['verify: secp256k1 (libsecp256k1)', (n, u) => n === 'ecdsaVerify' || u.includes('secp256k1')],
  ['keccak256 / sha256', (_n, u) => u.includes('/hash/') || u.includes('content-hash')],
  ['zstd', (_n, u) => u.includes('/zstd/') || u.includes('fzstd')],
  ['CBOR / COSE decode', (_n, u) => u.includes('/cbor/') || u.includes('/cose/')],
  ['payload decode', (_n, u) => u.includes('/payload/')],
  ['batch parse', (_n, u) => u.includes('/protocol/src/batch/')],
  ['verify: digests, checks (verifier)', (_n, u) => u.includes('/verifier/src/')],
  ['worker: reply (postMessage)', (n, u) => n === 'postMessage' && !u.includes('prepare-pool')],
  [
    'worker: prepare (rest)',
    (_n, u) =>
      u.endsWith('prepare-worker.ts') || u.endsWith('prepare-batch.ts') || u.endsWith('wire.ts'),
  ],
  // applying thread
  [
    'cursor (read, write)',
    (n) => ['recordApplied', 'checkInt64', 'nextSequence', 'cursor', 'setCursor'].includes(n),
  ],
  ['applyChangeset (applier)', (_n, u) => u.includes('/applier/src/')],
  [
    'BEGIN / COMMIT of the group',
    (n, _u, parent) =>
      (n === 'sqliteTransaction' && parent.includes('commitGroup')) ||
      n === 'commitGroupTransaction',
  ],
  [
    'savepoint per message',
    (n, u) =>
      n === 'sqliteTransaction' ||
      n.includes('avepoint') ||
      u.includes('better-sqlite3/lib/methods/transaction'),
  ],
  ['applyMessage', (_n, u) => u.endsWith('apply-message.ts')],
  ['events, progress (afterCommit)', (n, u) => n === 'emit' || u.endsWith('/progress.ts')],
  ['engine (group loop, batch steps)', (_n, u) => u.endsWith('/engine.ts')],
  ['receive from workers (prepare-pool)', (_n, u) => u.endsWith('prepare-pool.ts')],
  ['fetch (HTTP, undici)', (_n, u) => u.includes('undici') || u.includes('/fetchers/src/')],
];
const FALLBACK: Rule[] = [
  [
    'event loop, promises',
    (n) => n === 'runMicrotasks' || n === 'processTicksAndRejections' || n === 'processImmediate',
  ],
  ['node internals (streams, timers, ...)', (_n, u) => u.startsWith('node:')],
];

function breakdown(profile: CpuProfile): { busy: number; byCategory: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const match = (rules: Rule[], id: number): string | undefined => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url } = byId.get(at)!.callFrame;
      const up = parent.get(at);
      const parentName = up === undefined ? '' : byId.get(up)!.callFrame.functionName;
      const hit = rules.find(([, test]) => test(functionName, url, parentName));
      if (hit !== undefined) return hit[0];
    }
    return undefined;
  };
  const categoryOf = (id: number): string => {
    let category = memo.get(id);
    if (category === undefined) {
      category = match(RULES, id) ?? match(FALLBACK, id) ?? 'other';
      memo.set(id, category);
    }
    return category;
  };
  const byCategory = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id) => {
    const name = byId.get(id)!.callFrame.functionName;
    if (name === '(idle)' || name === '(root)') return;
    // One sample, one unit: a thread that was descheduled (a busy machine) takes one sample when
    // it runs again, whose time delta covers the wait; counting samples approximates CPU time.
    busy += 1;
    const category = categoryOf(id);
    byCategory.set(category, (byCategory.get(category) ?? 0) + 1);
  });
  return { busy, byCategory };
}

function topSelf(profile: CpuProfile, count: number): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id) => {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') return;
    const weight = 1;
    busy += weight;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + weight);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
}

// --- one catch-up --------------------------------------------------------------------------------
interface Run {
  /** Index of its source argument. */
  source: number;
  ms: number;
  /** CPU of the storage server process during the run (100 Hz ticks). */
  serverUs: number;
  /** Commits (messagesCommitted events) during the run. */
  commits: number;
  /** Batches prepared on the applying thread (`PreparePool#prepareWaitingHere`), of all. */
  preparedHere: number;
  batches: number;
  main: { cpuUs: number; profile: CpuProfile };
  workers: { cpuUs: number; profile: CpuProfile }[];
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
if (PROFILING) await session.post('Profiler.setSamplingInterval', { interval: INTERVAL_US });
const channel = new BroadcastChannel('synddb-bench-profile');
channel.unref();

function fromWorkers<T>(count: number, request: string, pick: (data: unknown) => T | null) {
  return new Promise<T[]>((resolveAll) => {
    const got: T[] = [];
    channel.onmessage = (event: unknown) => {
      const value = pick((event as { data: unknown }).data);
      if (value === null) return;
      got.push(value);
      if (got.length === count) resolveAll(got);
    };
    channel.postMessage(request);
  });
}

async function catchUp(index: number, run: number): Promise<Run> {
  const dir = sources[index]!;
  const sync = (await import(pathToFileURL(join(dir, 'index.ts')).href)) as typeof SyncModule;
  process.env.SYNDDB_PREPARE_WORKER = pathToFileURL(join(dir, 'prepare-worker.ts')).href;
  const preparePool = sync.createPreparePool({
    ...poolOptions[index],
    workerUrl: new URL('./profiled-prepare-worker.ts', import.meta.url),
  });
  await preparePool.ready();
  const path = join(root, `replica-${run}.db`);
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  const engine = sync.createSyncEngine({
    db,
    databasePath: path,
    fetcher: fetchers[fetcherOf[index] ?? defaultFetcher]!,
    sequencerPubkeys: [parseSequencerPubkey(server.pubkey)],
    syncIntervalMs: 5,
    prefetchBatches: Number(process.env.BENCH_PREFETCH ?? 8),
    preparePool,
    ...(process.env.BENCH_STATE_ROOT === '1' ? { stateRoot: true } : {}),
  });
  let commits = 0;
  engine.on('messagesCommitted', () => {
    commits++;
  });
  const done = new Promise<void>((resolveDone, reject) => {
    engine.on('applied', (messages) => {
      if ((messages.at(-1)?.sequence ?? -1n) >= server.head) resolveDone();
    });
    engine.on('halted', (r) => reject(new Error(`halted: ${r.code} ${r.message}`)));
  });
  await fromWorkers(preparePool.size, 'start', (d) =>
    typeof d === 'object' && d !== null && 'started' in d ? d : null,
  );
  if (PROFILING) await session.post('Profiler.start');
  const cpuAtStart = process.threadCpuUsage();
  const serverAtStart = serverCpuUs();
  const started = performance.now();
  engine.start();
  await done;
  const ms = performance.now() - started;
  const cpu = process.threadCpuUsage(cpuAtStart);
  const serverUs = serverCpuUs() - serverAtStart;
  const { profile } = PROFILING
    ? await session.post('Profiler.stop')
    : { profile: { nodes: [], samples: [], timeDeltas: [] } };
  const workers = await fromWorkers(preparePool.size, 'stop', (d) =>
    typeof d === 'object' && d !== null && 'profile' in d
      ? (d as { cpuUs: number; profile: CpuProfile })
      : null,
  );
  await engine.stop();
  // (older sources' pools have no stats)
  const stats = preparePool.stats?.() ?? { preparedHere: 0, preparedByWorkers: 0 };
  await preparePool.close();
  db.close();
  rmSync(path, { force: true });
  return {
    source: index,
    ms,
    serverUs,
    commits,
    preparedHere: stats.preparedHere,
    batches: stats.preparedHere + stats.preparedByWorkers,
    main: { cpuUs: cpu.user + cpu.system, profile: profile as CpuProfile },
    workers,
  };
}

// The verify capacity, as bench/catch-up.ts part 2 measures it: one core's verifications per
// second (this thread, ~0.5 s, distinct signatures under one key) before every round.
const signer = createSequencerSigner(
  'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
);
const samples = Array.from({ length: 256 }, (_, i) => {
  const digest = keccak256(new TextEncoder().encode(`verify sample ${i}`));
  return { digest, signature: signer.signDigest(digest) };
});
function verifyRatePerCore(): number {
  const verifier = defaultBackend().bindPublicKey(signer.pubkey);
  const started = performance.now();
  let done = 0;
  while (performance.now() - started < 500) {
    for (const { signature, digest } of samples) verifier.verify(signature, digest);
    done += samples.length;
  }
  return done / ((performance.now() - started) / 1000);
}
const verifyRates: number[] = [];
let workers = 0;

const runs: Run[] = [];
let runNo = 0;
for (let round = 0; round < ROUNDS; round++) {
  verifyRates.push(verifyRatePerCore());
  for (const [index, dir] of sources.entries()) {
    const run = await catchUp(index, runNo++);
    runs.push(run);
    workers = run.workers.length;
    console.log(
      `round ${round + 1} ${dir}: ${Math.round(N / (run.ms / 1000))} msgs/s, main ${(run.main.cpuUs / N).toFixed(1)} us/msg CPU, worker(s) ${run.workers.map((w) => (w.cpuUs / N).toFixed(1)).join('+')} us/msg CPU, storage server ${(run.serverUs / N).toFixed(1)} us/msg CPU, ${Math.round(N / run.commits)} messages per commit, ${run.preparedHere} of ${run.batches} batches prepared on the applying thread`,
    );
    if (PROFILING && PROFILE_DIR !== undefined) {
      mkdirSync(PROFILE_DIR, { recursive: true });
      writeFileSync(
        join(PROFILE_DIR, `run${runNo}-main.cpuprofile`),
        JSON.stringify(run.main.profile),
      );
      run.workers.forEach((w, i) => {
        writeFileSync(
          join(PROFILE_DIR, `run${runNo}-worker${i}.cpuprofile`),
          JSON.stringify(w.profile),
        );
      });
    }
  }
}
server.stop();

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** µs per message per category: the run's share of samples times its thread's CPU time. */
function perMessage(thread: { cpuUs: number; profile: CpuProfile }): Map<string, number> {
  const { busy, byCategory } = breakdown(thread.profile);
  const out = new Map<string, number>();
  for (const [category, weight] of byCategory)
    out.set(category, (weight / busy) * (thread.cpuUs / N));
  out.set('total (thread CPU clock)', thread.cpuUs / N);
  return out;
}

for (const thread of PROFILING ? (['main', 'worker'] as const) : []) {
  const table: Record<string, Record<string, string>> = {};
  const categories = new Set<string>();
  const medians = sources.map((_dir, index) => {
    const mine = runs.filter((r) => r.source === index);
    const maps = mine.map((r) =>
      thread === 'main'
        ? perMessage(r.main)
        : perMessage({
            cpuUs: r.workers.reduce((n, w) => n + w.cpuUs, 0),
            profile: mergeProfiles(r.workers.map((w) => w.profile)),
          }),
    );
    for (const m of maps) for (const k of m.keys()) categories.add(k);
    return (category: string) => median(maps.map((m) => m.get(category) ?? 0));
  });
  const sorted = [...categories].sort((a, b) =>
    a.startsWith('total') ? 1 : b.startsWith('total') ? -1 : medians[0]!(b) - medians[0]!(a),
  );
  for (const category of sorted) {
    table[category] = Object.fromEntries(
      sources.map((_dir, i) => [label(i), medians[i]!(category).toFixed(2)]),
    );
  }
  console.log(
    `\n${thread === 'main' ? 'applying (main) thread' : 'prepare worker(s), summed'}: us of CPU per message (median of ${ROUNDS})`,
  );
  console.table(table);
}
const rates = Object.fromEntries(
  sources.map((_dir, i) => [
    label(i),
    {
      'msgs/s (median)': Math.round(
        median(runs.filter((r) => r.source === i).map((r) => N / (r.ms / 1000))),
      ),
      'time / first source, median of rounds': median(
        [...Array(ROUNDS).keys()].map(
          (round) => runs[round * sources.length + i]!.ms / runs[round * sources.length]!.ms,
        ),
      ).toFixed(2),
    },
  ]),
);
console.log('\nend to end');
console.table(rates);
const capacity = workers * median(verifyRates);
console.log(
  `verify capacity: ${workers} worker(s) x ${Math.round(median(verifyRates))} verifications/s per core (median of the rounds) = ${Math.round(capacity)}/s; end to end / capacity: ${sources
    .map(
      (_dir, i) =>
        `${i}: ${(median(runs.filter((r) => r.source === i).map((r) => N / (r.ms / 1000))) / capacity).toFixed(2)}`,
    )
    .join(', ')}`,
);

if (PROFILING && TOP > 0) {
  for (const [index, dir] of sources.entries()) {
    const last = runs.filter((r) => r.source === index).at(-1)!;
    console.log(
      `\ntop self time, main thread, ${dir}:\n${topSelf(last.main.profile, TOP).join('\n')}`,
    );
    console.log(
      `\ntop self time, worker, ${dir}:\n${topSelf(mergeProfiles(last.workers.map((w) => w.profile)), TOP).join('\n')}`,
    );
  }
}

/** Several threads' profiles as one (node ids renumbered). */
function mergeProfiles(profiles: CpuProfile[]): CpuProfile {
  if (profiles.length === 1) return profiles[0]!;
  const nodes: ProfileNode[] = [];
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let offset = 0;
  for (const p of profiles) {
    let max = 0;
    for (const n of p.nodes) {
      nodes.push({ ...n, id: n.id + offset, children: (n.children ?? []).map((c) => c + offset) });
      max = Math.max(max, n.id);
    }
    for (const s of p.samples) samples.push(s + offset);
    timeDeltas.push(...p.timeDeltas);
    offset += max + 1;
  }
  return { nodes, samples, timeDeltas };
}
