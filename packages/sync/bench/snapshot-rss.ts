// pnpm bench:rss (packages/sync): memory of the validator side (issue 13 goals: RSS during a 1 GB
// snapshot restore < 1.2x the image size; steady-state sync RSS <= 512 MB).
//
//   1. snapshot restore: a ~BENCH_SNAPSHOT_MB SQLite image made with node:sqlite (a table of
//      accounts with an index, and a table of documents whose blobs are random bytes, so the
//      compressed size is close to the image size: `incompressible`; or repetitive JSON-like text,
//      several times smaller compressed: `compressible`), signed and batched as the sequencer does
//      (one snapshot message, zstd level 3 on both layers), served over HTTP on loopback from
//      another process, and synced by a sync engine with a prepare worker (as synddb-validator
//      runs it) in a child process. Its RSS is sampled from /proc every 10 ms and its peak
//      (VmHWM) read when the snapshot is applied; printed as a ratio to the image size.
//   2. steady state: the same child process shape catching up a backlog of changesets (the
//      validator bench's workload: a 100,000-row snapshot, then BENCH_BACKLOG messages of 200 row
//      changes) through the project's storage server (storage-server.ts); RSS sampled every 10 ms
//      after the snapshot, median and max.
//
// Env: BENCH_SNAPSHOT_MB (1024), BENCH_VARIANTS (incompressible,compressible), BENCH_BACKLOG
// (20000; 0 skips part 2), BENCH_THREADS (1 prepare worker; 0 prepares on the main thread).
// Every cap is at its default: a batch over the 64 MiB download cap that carries a snapshot is
// streamed, its payload spooled beside the replica (an incompressible 1 GB image's batch is; a
// compressible one's, ~41 MiB, is downloaded whole).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  createReadStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { readDatabaseImage } from '@synddb/devnet';
import { createHttpFetcher } from '@synddb/fetchers';
import {
  encodeBatchBlob,
  encodeSnapshotRequest,
  MessageType,
  zstdCompress,
} from '@synddb/protocol';
import { createSequencerSigner, parseSequencerPubkey } from '@synddb/verifier';
import BetterSqlite3 from 'better-sqlite3';
import { createPreparePool, createSyncEngine } from '../src/index';
import { startStorageServer } from './storage-server-client';

const KEY = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const MiB = 1024 * 1024;
const self = fileURLToPath(import.meta.url);
const childArgs = ['--conditions=source', '--import', 'tsx', self];

function child(args: string[], stdio: 'pipe' | 'inherit' = 'pipe'): ChildProcess {
  return spawn(process.execPath, [...childArgs, ...args], {
    stdio: ['ignore', stdio, 'inherit'],
  });
}

function firstLine(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(buffered.slice(0, newline));
    });
    proc.on('exit', (code) => reject(new Error(`child exited ${code} before answering`)));
  });
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.on('exit', (code) => resolve(code));
  });
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

const mb = (bytes: number) => (bytes / MiB).toFixed(0);

// ---- child modes ---------------------------------------------------------------------------

/** Makes the image: `make <path> <MB> <variant>`. */
function makeImage(path: string, megabytes: number, variant: string): void {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, memo TEXT);
    CREATE INDEX accounts_owner ON accounts (owner);
    CREATE TABLE documents (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, kind TEXT, body BLOB);`);
  const account = db.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
  const doc = db.prepare('INSERT INTO documents VALUES (?, ?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 1; i <= 100_000; i++) account.run(i, `owner-${i}`, 1000 + i, `memo ${i % 977}`);
  const target = megabytes * MiB;
  const pool = Buffer.alloc(16 * MiB);
  let used = pool.length;
  let id = 1;
  const words = ['alpha', 'beta', 'gamma', 'delta', 'transfer', 'deposit', 'fee', 'memo'];
  for (;;) {
    if (id % 4096 === 0) {
      db.exec('COMMIT');
      if (statSync(path).size >= target) break;
      db.exec('BEGIN');
    }
    const size = 600 + ((id * 7919) % 1400);
    let body: Uint8Array;
    if (variant === 'incompressible') {
      if (used + size > pool.length) {
        randomFillSync(pool);
        used = 0;
      }
      body = pool.subarray(used, used + size);
      used += size;
    } else {
      let text = '';
      while (text.length < size) {
        text += `{"id":${id},"op":"${words[(id + text.length) % words.length]}","amount":${(id * 31) % 100000},"ok":true}`;
      }
      body = Buffer.from(text.slice(0, size));
    }
    doc.run(id, 1 + (id % 100_000), words[id % words.length]!, body);
    id++;
  }
  db.close();
}

/** Signs and batches the image as the sequencer does: `publish <image> <blob>`. */
function publish(imagePath: string, blobPath: string): void {
  const signer = createSequencerSigner(KEY);
  let payload: Uint8Array | undefined = zstdCompress(
    encodeSnapshotRequest({
      snapshot: { data: readFileSync(imagePath), timestamp: 1n, sequence: 0n },
      messageId: 'snapshot-rss-bench',
    }),
  );
  const message = signer.signMessage({
    sequence: 0n,
    timestamp: 1n,
    messageType: MessageType.Snapshot,
    payload,
  });
  const payloadBytes = payload.byteLength;
  payload = undefined;
  const blob = encodeBatchBlob(signer.signBatch([message], { createdAt: 1n }));
  writeFileSync(blobPath, blob);
  process.stdout.write(
    `${JSON.stringify({ pubkey: Buffer.from(signer.pubkey).toString('hex'), payloadBytes })}\n`,
  );
}

/** Serves one batch (sequence 0) from a file, streamed: `serve <blob>`. */
function serve(blobPath: string): void {
  const server = createServer((req, res) => {
    if (req.url === '/storage/batches') {
      res.setHeader('content-type', 'application/json');
      res.end('[{"start_sequence":0,"end_sequence":0}]');
    } else if (req.url === '/storage/latest') {
      res.setHeader('content-type', 'application/json');
      res.end('{"sequence":0}');
    } else if (req.url === '/storage/batches/0') {
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', String(statSync(blobPath).size));
      createReadStream(blobPath).pipe(res);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
  });
}

/**
 * The measured process: `sync <url> <pubkey> <db> <head> <threads>`. Prints `ready <VmRSS kB>`
 * once its prepare pool is up (the baseline), starts the engine, and prints `done <VmHWM kB>
 * <seconds>` when the cursor reaches `head`.
 */
async function sync(url: string, pubkey: string, dbPath: string, head: bigint, threads: number) {
  const db = new BetterSqlite3(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const pool = threads > 0 ? createPreparePool({ size: threads }) : undefined;
  await pool?.ready();
  const engine = createSyncEngine({
    db,
    databasePath: dbPath,
    fetcher: createHttpFetcher({ baseUrl: url }),
    sequencerPubkeys: [parseSequencerPubkey(pubkey)],
    syncIntervalMs: 20,
    ...(pool === undefined ? {} : { preparePool: pool }),
  });
  process.stdout.write(`ready ${statusKb(process.pid, 'VmRSS')}\n`);
  await new Promise((r) => setTimeout(r, 200));
  engine.on('halted', (h) => process.stderr.write(`halted: ${JSON.stringify(h, replacer)}\n`));
  const started = performance.now();
  engine.start();
  let snapshotAt = 0;
  let prepared = 0;
  engine.on('batchVerified', () => {
    // the first batch (the snapshot's) downloaded and verified: the rest of the time is the restore
    if (prepared === 0) prepared = performance.now();
  });
  engine.on('snapshot', () => {
    snapshotAt = performance.now();
    process.stdout.write(
      `snapshot ${((snapshotAt - started) / 1000).toFixed(2)} ${((prepared - started) / 1000).toFixed(2)}\n`,
    );
  });
  while ((engine.status().lastSequence ?? -1n) < head) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`done ${statusKb(process.pid, 'VmHWM')} ${seconds.toFixed(2)}\n`);
  await engine.stop();
  await pool?.close();
  db.close();
}

function replacer(_key: string, value: unknown) {
  return typeof value === 'bigint' ? value.toString() : value;
}

// ---- orchestration -------------------------------------------------------------------------

interface Sampled {
  baselineKb: number;
  peakKb: number;
  samples: { at: number; kb: number; afterSnapshot: boolean }[];
  seconds: number;
  /** From the start until the snapshot's batch was downloaded and verified. */
  preparedSeconds: number;
}

async function runSync(url: string, pubkey: string, dbPath: string, head: bigint) {
  const threads = Number(process.env.BENCH_THREADS ?? 1);
  const proc = child(['sync', url, pubkey, dbPath, String(head), String(threads)]);
  const pid = proc.pid ?? -1;
  const result: Sampled = {
    baselineKb: 0,
    peakKb: 0,
    samples: [],
    seconds: 0,
    preparedSeconds: 0,
  };
  let afterSnapshot = false;
  let buffered = '';
  const done = new Promise<void>((resolve) => {
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline < 0) break;
        const [word, a, b] = buffered.slice(0, newline).split(' ');
        buffered = buffered.slice(newline + 1);
        if (word === 'ready') result.baselineKb = Number(a);
        if (word === 'snapshot') {
          afterSnapshot = true;
          result.preparedSeconds = Number(b);
        }
        if (word === 'done') {
          result.peakKb = Number(a);
          result.seconds = Number(b);
          resolve();
        }
      }
    });
  });
  const started = performance.now();
  const timer = setInterval(() => {
    const kb = statusKb(pid, 'VmRSS');
    if (kb > 0) result.samples.push({ at: performance.now() - started, kb, afterSnapshot });
  }, 10);
  const code = await Promise.race([done.then(() => 'done' as const), exited(proc)]);
  clearInterval(timer);
  if (code !== 'done') throw new Error(`sync child exited ${code}`);
  await exited(proc);
  return result;
}

/** The max RSS of each tenth of the run, in MiB. */
function timeline(r: Sampled): string {
  const end = r.samples.at(-1)?.at ?? 0;
  const tenths = Array.from({ length: 10 }, (_, i) =>
    Math.max(0, ...r.samples.filter((s) => Math.floor((s.at / end) * 10) === i).map((s) => s.kb)),
  );
  return tenths.map((kb) => mb(kb * 1024)).join(' ');
}

async function snapshotPart(root: string, megabytes: number, variant: string) {
  const imagePath = join(root, `${variant}.db`);
  const blobPath = join(root, `${variant}.blob`);
  const make = child(['make', imagePath, String(megabytes), variant], 'inherit');
  if ((await exited(make)) !== 0) throw new Error('make failed');
  const imageBytes = statSync(imagePath).size;
  const pub = child(['publish', imagePath, blobPath]);
  const published = JSON.parse(await firstLine(pub)) as { pubkey: string; payloadBytes: number };
  await exited(pub);
  rmSync(imagePath);
  const server = child(['serve', blobPath]);
  const { url } = JSON.parse(await firstLine(server)) as { url: string };
  try {
    const dbPath = join(root, `${variant}-replica.db`);
    const r = await runSync(url, published.pubkey, dbPath, 0n);
    const maxSampled = Math.max(...r.samples.map((s) => s.kb));
    console.log(
      `${variant.padEnd(14)} image ${mb(imageBytes)} MiB, compressed payload ${mb(published.payloadBytes)} MiB (${(published.payloadBytes / imageBytes).toFixed(2)}x), batch blob ${mb(statSync(blobPath).size)} MiB`,
    );
    console.log(
      `${''.padEnd(14)} RSS before sync ${mb(r.baselineKb * 1024)} MiB; peak (VmHWM) ${mb(r.peakKb * 1024)} MiB = ${((r.peakKb * 1024) / imageBytes).toFixed(2)}x the image (max sampled ${mb(maxSampled * 1024)} MiB); peak - baseline = ${(((r.peakKb - r.baselineKb) * 1024) / imageBytes).toFixed(2)}x; restore ${r.seconds.toFixed(1)} s (download and verify ${r.preparedSeconds.toFixed(1)} s)`,
    );
    console.log(`${''.padEnd(14)} RSS over time (MiB, max of each tenth): ${timeline(r)}`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  } finally {
    server.kill('SIGTERM');
    rmSync(blobPath, { force: true });
  }
}

async function steadyPart(root: string, backlog: number) {
  const source = new DatabaseSync(join(root, 'backlog-source.db'));
  source.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, memo TEXT);`);
  const rows = 100_000;
  source.exec('BEGIN');
  const seed = source.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
  for (let i = 1; i <= rows; i++) seed.run(i, `owner-${i}`, 1000, 'x'.repeat(40));
  source.exec('COMMIT');
  const image = readDatabaseImage(source);
  const update = source.prepare('UPDATE accounts SET balance = balance + 1, memo = ? WHERE id = ?');
  const insert = source.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
  const changesets: Uint8Array[] = [];
  let nextId = rows + 1;
  for (let m = 0; m < backlog; m++) {
    const session = source.createSession();
    source.exec('BEGIN');
    for (let i = 0; i < 150; i++) update.run(`m${m}`, 1 + ((m * 150 + i) % rows));
    for (let i = 0; i < 50; i++) insert.run(nextId++, `owner-${nextId}`, 1, null);
    source.exec('COMMIT');
    changesets.push(session.changeset());
    session.close();
  }
  source.close();
  const server = await startStorageServer(join(root, 'backlog.bin'), image, changesets);
  try {
    const r = await runSync(
      server.url,
      server.pubkey,
      join(root, 'backlog-replica.db'),
      server.head,
    );
    const steady = r.samples.filter((s) => s.afterSnapshot).map((s) => s.kb);
    steady.sort((a, b) => a - b);
    const median = steady[Math.floor(steady.length / 2)] ?? 0;
    const p99 = steady[Math.floor(steady.length * 0.99)] ?? 0;
    console.log(
      `steady state   ${backlog} messages of 200 row changes in ${r.seconds.toFixed(1)} s (${Math.round(backlog / r.seconds)}/s): RSS median ${mb(median * 1024)} MiB, p99 ${mb(p99 * 1024)} MiB, max ${mb((steady.at(-1) ?? 0) * 1024)} MiB, peak (VmHWM) ${mb(r.peakKb * 1024)} MiB; before sync ${mb(r.baselineKb * 1024)} MiB (goal <= 512 MB)`,
    );
  } finally {
    server.stop();
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'make') makeImage(args[0]!, Number(args[1]), args[2]!);
else if (mode === 'publish') publish(args[0]!, args[1]!);
else if (mode === 'serve') serve(args[0]!);
else if (mode === 'sync')
  await sync(args[0]!, args[1]!, args[2]!, BigInt(args[3]!), Number(args[4]));
else {
  const megabytes = Number(process.env.BENCH_SNAPSHOT_MB ?? 1024);
  const variants = (process.env.BENCH_VARIANTS ?? 'incompressible,compressible')
    .split(',')
    .filter(Boolean);
  const backlog = Number(process.env.BENCH_BACKLOG ?? 20000);
  const root = mkdtempSync(join(tmpdir(), 'synddb-rss-bench-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  console.log(
    `node ${process.version}, prepare workers: ${process.env.BENCH_THREADS ?? 1}; RSS of the syncing process, /proc every 10 ms`,
  );
  for (const variant of variants) await snapshotPart(root, megabytes, variant);
  if (backlog > 0) await steadyPart(root, backlog);
}
