/**
 * Point-query latency over HTTP (POST /query on a real server on 127.0.0.1) at a fixed request
 * rate, first on an idle replica, then while this same process applies changesets to it as fast
 * as it can (one transaction per batch of changes plus the cursor, yielding to the event loop
 * between commits, as the sync engine does). Latency is measured from each request's scheduled
 * send time (open loop: a slow answer does not delay the next request).
 *
 *   pnpm --filter @synddb/http-api bench [-- --rate 500 --seconds 5 --workers 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { createQueryService } from '@synddb/query';
import { createValidatorApi, createValidatorMetrics, serveValidatorApi } from '../src/index';

const { values } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    rows: { type: 'string', default: '100000' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const ROWS = Number(values.rows);

const dir = mkdtempSync(join(tmpdir(), 'query-bench-'));
const path = join(dir, 'replica.db');
const db = new DatabaseSync(path);
db.exec(`
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = NORMAL;
  CREATE TABLE _synddb_cursor (id INTEGER PRIMARY KEY, last_sequence INTEGER NOT NULL);
  INSERT INTO _synddb_cursor VALUES (1, 0);
  CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, memo TEXT);
`);
db.exec('BEGIN');
const seed = db.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
for (let i = 1; i <= ROWS; i++) seed.run(i, `owner-${i}`, 1000, 'x'.repeat(40));
db.exec('COMMIT');

// Changesets to replay: each updates 50 accounts and inserts 10 (recorded with a session on a
// scratch copy of the schema, so the replica itself only ever sees applyChangeset).
const scratch = new DatabaseSync(':memory:');
scratch.exec(
  'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, memo TEXT)',
);
const scratchSeed = scratch.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
for (let i = 1; i <= ROWS; i++) scratchSeed.run(i, `owner-${i}`, 1000, 'x'.repeat(40));
const changesets: Uint8Array[] = [];
let nextId = ROWS + 1;
for (let c = 0; c < 200; c++) {
  const session = scratch.createSession();
  const update = scratch.prepare('UPDATE accounts SET balance = balance + 1 WHERE id = ?');
  for (let k = 0; k < 50; k++) update.run(1 + ((c * 977 + k * 131) % ROWS));
  const insert = scratch.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
  for (let k = 0; k < 10; k++) insert.run(nextId++, 'new', 1, null);
  changesets.push(session.changeset());
  session.close();
}

const metrics = createValidatorMetrics();
const query = createQueryService({
  databasePath: path,
  workers: WORKERS,
  timeoutMs: 5000,
  metrics,
});
await query.ready();
const app = createValidatorApi({
  status: () => ({
    state: 'caught_up',
    lastSequence: 0n,
    lastTimestamp: 0n,
    lastAppliedAt: null,
    nextSequence: 1n,
    headSequence: 0n,
    lagSequences: 0n,
    lagSeconds: 0,
    halt: null,
    skippedGaps: [],
    messagesApplied: 0,
  }),
  metrics,
  query,
});
const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });

interface Run {
  p50: number;
  p99: number;
  max: number;
  errors: number;
  sent: number;
}

async function measure(): Promise<Run> {
  const total = Math.round(RATE * SECONDS);
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = started + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const id = 1 + ((i * 7919) % ROWS);
    pending.push(
      fetch(`${served.url}/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT * FROM accounts WHERE id = ?', params: [id] }),
      }).then(
        async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
          latencies.push(performance.now() - scheduled);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? Number.NaN, errors, sent: total };
}

// Warm up connections and workers.
await Promise.all(
  Array.from({ length: 50 }, (_, i) =>
    fetch(`${served.url}/query`, {
      method: 'POST',
      body: JSON.stringify({ sql: 'SELECT * FROM accounts WHERE id = ?', params: [i + 1] }),
    }).then((r) => r.arrayBuffer()),
  ),
);

const idle = await measure();

let applying = true;
let commits = 0;
let sequence = 0n;
const setCursor = db.prepare('UPDATE _synddb_cursor SET last_sequence = ? WHERE id = 1');
const writer = (async () => {
  while (applying) {
    db.exec('BEGIN IMMEDIATE');
    db.applyChangeset(changesets[commits % changesets.length]!, {
      onConflict: () => 1, // SQLITE_CHANGESET_REPLACE: replays of the same changeset keep applying
    });
    sequence++;
    setCursor.run(sequence);
    db.exec('COMMIT');
    commits++;
    await new Promise((r) => setImmediate(r));
  }
})();
const writeStarted = performance.now();
const busy = await measure();
applying = false;
await writer;
const commitsPerSecond = commits / ((performance.now() - writeStarted) / 1000);

await served.close();
await query.close();
db.close();
rmSync(dir, { recursive: true, force: true });

const fmt = (n: number) => `${n.toFixed(2)} ms`;
console.log(
  `point query over HTTP, ${RATE} req/s for ${SECONDS} s, ${WORKERS} query workers, ${ROWS} rows (Node ${process.version})`,
);
console.log(
  `idle replica:        p50 ${fmt(idle.p50)}  p99 ${fmt(idle.p99)}  max ${fmt(idle.max)}  errors ${idle.errors}/${idle.sent}`,
);
console.log(
  `while applying:      p50 ${fmt(busy.p50)}  p99 ${fmt(busy.p99)}  max ${fmt(busy.max)}  errors ${busy.errors}/${busy.sent}  (${commitsPerSecond.toFixed(0)} commits/s of 60 row changes, ${commits} commits)`,
);
console.log(
  `ratio (applying / idle): p50 ${(busy.p50 / idle.p50).toFixed(2)}x  p99 ${(busy.p99 / idle.p99).toFixed(2)}x`,
);
