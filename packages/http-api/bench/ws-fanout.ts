/**
 * WebSocket row-change fan-out under subscribers that never read (issue 13, "hold every
 * WebSocket slot"): a real server on 127.0.0.1 with `attachSubscriptions`, fed commits of
 * row changes (real changesets, node:sqlite sessions) at a fixed rate by a stand-in engine. One
 * `ws` client reads everything; N raw sockets upgrade, subscribe to rows and never read again.
 * Measured on this thread (the one that serves /health in the validator): how late a 10 ms timer
 * fires (event-loop delay) and the CPU time per commit, first with the reader alone (baseline),
 * then with the N non-readers, as ratios against the baseline.
 *
 *   node --conditions=source --import tsx bench/ws-fanout.ts [--clients 300 --seconds 5]
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { MessageType } from '@synddb/protocol';
import type { AppliedMessage } from '@synddb/sync';
import { WebSocket } from 'ws';
import {
  attachSubscriptions,
  createValidatorApi,
  createValidatorMetrics,
  rowChanges,
  serveValidatorApi,
} from '../src/index';

const { values } = parseArgs({
  allowPositionals: true,
  options: {
    clients: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '5' },
    // the hostile-clients release test: 20-message batches every 200 ms, ~10 rows per message
    messages: { type: 'string', default: '20' },
    rows: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '200' },
  },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const MESSAGES = Number(values.messages);
const ROWS = Number(values.rows);
const INTERVAL_MS = Number(values['interval-ms']);

const SCHEMA =
  'CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL, nickname TEXT)';
const source = new DatabaseSync(':memory:');
source.exec(SCHEMA);
const replica = new DatabaseSync(':memory:');
replica.exec(SCHEMA);
let nextAccount = 1;
let nextSequence = 0n;
/** Row changes emitted so far (a session merges changes of one row: not always ROWS each). */
let emittedRows = 0;
const positional = {
  columns: (_: string, n: number) => Array.from({ length: n }, (_, i) => `${i}`),
};

/** One applied message: ROWS inserts and updates of accounts, as the sample app makes them. */
function nextMessage(): AppliedMessage {
  const session = source.createSession();
  const insert = source.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?)');
  const update = source.prepare('UPDATE accounts SET balance = balance + 1 WHERE id = ?');
  for (let i = 0; i < ROWS; i++) {
    if (i % 2 === 0 || nextAccount < 10) {
      const id = nextAccount++;
      insert.run(id, `owner-${id}`, 1000 + id, i % 4 === 0 ? null : `nick-${id}`);
    } else update.run(1 + ((nextAccount * 7919) % (nextAccount - 1)));
  }
  const changeset = session.changeset();
  session.close();
  for (const _ of rowChanges(changeset, positional)) emittedRows++;
  const sequence = nextSequence++;
  return {
    sequence,
    timestamp: 1_700_000_000n + sequence,
    messageType: MessageType.Changeset,
    changesets: [changeset],
  };
}

const engine = new EventEmitter();
const app = createValidatorApi({
  status: () => {
    throw new Error('not used');
  },
  metrics: createValidatorMetrics(),
});
const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
const subscriptions = attachSubscriptions(served.server, {
  engine,
  replica,
  metrics: createValidatorMetrics(),
  heartbeatMs: 0,
  maxClientsPerAddress: 0, // every client is on 127.0.0.1 here
});
const port = Number(new URL(served.url).port);

/** A masked client text frame (payload < 126 bytes). */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]!; // zero mask
  return out;
}

/** Upgrades, subscribes to rows, then never reads. */
function nonReader(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('error', reject);
    socket.once('connect', () =>
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.once('data', (chunk: Buffer) => {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 101')) {
        reject(new Error(chunk.toString('latin1')));
        return;
      }
      socket.write(maskedText(JSON.stringify({ op: 'subscribe', channel: 'rows' })));
      socket.pause();
      resolve(socket);
    });
  });
}

const reader = new WebSocket(`${served.url.replace('http', 'ws')}/ws`);
let received = 0;
reader.on('message', (data) => {
  if (String(data).startsWith('{"channel":"rows"')) received++; // not the ack
});
await new Promise((resolve) => reader.once('open', resolve));
reader.send(JSON.stringify({ op: 'subscribe', id: 1, channel: 'rows' }));
await new Promise<void>((resolve) => {
  const check = () => (subscriptions.clients()[0]?.rows ? resolve() : setTimeout(check, 5));
  check();
});

interface Result {
  delayP50: number;
  delayP90: number;
  delayMax: number;
  cpuMsPerCommit: number;
  commits: number;
  readerFrames: number;
  expectedFrames: number;
  dropped: number;
}

async function phase(): Promise<Result> {
  const frames = received;
  const open = () => subscriptions.clients().filter((c) => !c.closing).length;
  const openBefore = open();
  const rows = emittedRows;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu = process.cpuUsage();
  let commits = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    engine.emit(
      'applied',
      Array.from({ length: MESSAGES }, () => nextMessage()),
    );
    commits++;
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
  const used = process.cpuUsage(cpu);
  delay.disable();
  const want = frames + emittedRows - rows;
  const waitUntil = performance.now() + 30_000;
  while (received < want && performance.now() < waitUntil)
    await new Promise((r) => setTimeout(r, 10));
  // lateness: how much later than its 10 ms the timer fired
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 10);
  return {
    delayP50: ms(delay.percentile(50)),
    delayP90: ms(delay.percentile(90)),
    delayMax: ms(delay.max),
    cpuMsPerCommit: (used.user + used.system) / 1000 / commits,
    commits,
    readerFrames: received - frames,
    expectedFrames: emittedRows - rows,
    dropped: openBefore - open(),
  };
}

const baseline = await phase();
const sockets: Socket[] = [];
for (let i = 0; i < CLIENTS; i += 50) {
  sockets.push(
    ...(await Promise.all(Array.from({ length: Math.min(50, CLIENTS - i) }, nonReader))),
  );
}
await new Promise<void>((resolve) => {
  const check = () =>
    subscriptions.clients().filter((c) => c.rows !== null).length === CLIENTS + 1
      ? resolve()
      : setTimeout(check, 5);
  check();
});
const loaded = await phase();

const row = (name: string, r: Result) =>
  `${name.padEnd(22)} ${r.delayP50.toFixed(1).padStart(7)} ${r.delayP90.toFixed(1).padStart(7)} ${r.delayMax.toFixed(1).padStart(8)} ${r.cpuMsPerCommit.toFixed(2).padStart(9)} ${String(r.commits).padStart(7)} ${String(r.readerFrames).padStart(8)} ${String(r.dropped).padStart(7)}`;
console.log(
  `fan-out: ${MESSAGES} messages x ${ROWS} rows per commit every ${INTERVAL_MS} ms, ${SECONDS} s per phase`,
);
console.log(
  `${'phase'.padEnd(22)} ${'late (ms) p50'.padStart(15)} ${'p90'.padStart(7)} ${'max'.padStart(8)} ${'CPU/commit'.padStart(9)} commits   frames dropped`,
);
console.log(row('reader alone', baseline));
console.log(row(`+ ${CLIENTS} non-readers`, loaded));
console.log(
  `ratio (non-readers / alone): delay p90 ${(loaded.delayP90 / baseline.delayP90).toFixed(2)}x, max ${(loaded.delayMax / baseline.delayMax).toFixed(2)}x, CPU per commit ${(loaded.cpuMsPerCommit / baseline.cpuMsPerCommit).toFixed(2)}x`,
);
const held = subscriptions
  .clients()
  .filter((c) => !c.closing)
  .map((c) => c.bufferedAmount)
  .sort((a, b) => a - b);
console.log(
  `after: ${held.length} clients open, socket buffers (node side) median ${(held[held.length >> 1]! / 1024).toFixed(0)} KiB, total ${(held.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(1)} MiB (frames shared: counted per client), RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);
for (const [name, r] of [
  ['alone', baseline],
  ['with non-readers', loaded],
] as const) {
  if (r.readerFrames !== r.expectedFrames) {
    console.log(`${name}: the reader got ${r.readerFrames} of ${r.expectedFrames} row frames`);
    process.exitCode = 1;
  }
}

for (const s of sockets) s.destroy();
reader.terminate();
await subscriptions.close();
await served.close();
