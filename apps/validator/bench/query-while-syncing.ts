/**
 * pnpm bench (apps/validator): point-query latency of a real synddb-validator (POST /query on
 * 127.0.0.1) at a fixed request rate, p50/p99, first on a caught-up replica, then while the same
 * process's sync engine applies a backlog at full speed. The sequencer's storage API runs in its
 * own process (packages/sync/bench/storage-server.ts). Open loop: latency counts from each
 * request's scheduled send time, so a slow answer does not hold back the next request.
 *
 * Env: BENCH_RATE (100 req/s), BENCH_SECONDS (5), BENCH_ROWS (100000 rows in the snapshot),
 * BENCH_BACKLOG (12000 messages of 200 row changes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { createLogger } from '@synddb/app-kit';
import { readDatabaseImage } from '@synddb/devnet';
// The sequencer's storage API in its own process (a bench helper of @synddb/sync).
import { startStorageServer } from '../../../packages/sync/bench/storage-server-client';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 12000);

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
for (let m = 0; m < BACKLOG; m++) {
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
    },
    { logger: createLogger({ json: true, level: 'error', write: () => {} }) },
  );
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

/** Open-loop point queries at RATE for SECONDS; latencies in ms from the scheduled send time. */
async function measure(
  validator: ValidatorHandle,
): Promise<{ latencies: number[]; errors: number }> {
  const total = RATE * SECONDS;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / RATE;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const id = 1 + Math.floor(Math.random() * ROWS);
    inflight.push(
      fetch(`${validator.url}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          sql: 'SELECT owner, balance FROM accounts WHERE id = ?',
          params: [id],
        }),
      }).then(
        async (response) => {
          if (response.status === 200) await response.arrayBuffer();
          if (response.status === 200) latencies.push(performance.now() - at);
          else {
            errors++;
            if (process.env.BENCH_DEBUG)
              console.error(response.status, await response.text().catch(() => ''));
          }
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  return { latencies: latencies.sort((a, b) => a - b), errors };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

// 1) caught up: only the snapshot in storage
const idleServer = await startStorageServer(join(root, 'idle.bin'), image, []);
const idle = await validatorFor('idle', idleServer);
await waitFor(() => idle.status().lastSequence === idleServer.head);
const quiet = await measure(idle);
await idle.stop();
idleServer.stop();

// 2) while the sync engine applies the backlog at full speed
const busyServer = await startStorageServer(join(root, 'busy.bin'), image, changesets);
const busy = await validatorFor('busy', busyServer);
await waitFor(() => (busy.status().lastSequence ?? -1n) >= 0n);
const before = busy.status().lastSequence ?? 0n;
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const loaded = await measure(busy);
loopDelay.disable();
const after = busy.status().lastSequence ?? 0n;
const stillBehind = after < busyServer.head;
await busy.stop();
busyServer.stop();

const fmt = (n: number) => n.toFixed(2);
console.log(
  `\nsynddb-validator point-query latency, ${RATE} req/s for ${SECONDS} s, ${ROWS.toLocaleString()} rows (Node ${process.versions.node}, better-sqlite3 ${driverVersion})`,
);
console.table([
  {
    run: 'caught up (baseline)',
    'p50 ms': fmt(pct(quiet.latencies, 50)),
    'p99 ms': fmt(pct(quiet.latencies, 99)),
    ok: quiet.latencies.length,
    errors: quiet.errors,
  },
  {
    run: 'while sync applies at full speed',
    'p50 ms': fmt(pct(loaded.latencies, 50)),
    'p99 ms': fmt(pct(loaded.latencies, 99)),
    ok: loaded.latencies.length,
    errors: loaded.errors,
  },
]);
console.log(
  `event-loop delay while syncing: p50 ${fmt(loopDelay.percentile(50) / 1e6)} ms, p99 ${fmt(loopDelay.percentile(99) / 1e6)} ms, max ${fmt(loopDelay.max / 1e6)} ms`,
);
console.log(
  `ratio p50 ${fmt(pct(loaded.latencies, 50) / pct(quiet.latencies, 50))}x, p99 ${fmt(pct(loaded.latencies, 99) / pct(quiet.latencies, 99))}x; sync applied ${after - before} messages (${Math.round(Number(after - before) / SECONDS)} msgs/s, ${Math.round((Number(after - before) * 200) / SECONDS).toLocaleString()} row changes/s) during the window${stillBehind ? ', still behind at the end' : ' — caught up before the end: raise BENCH_BACKLOG'}`,
);
