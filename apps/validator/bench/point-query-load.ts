// Worker thread of query-while-syncing.ts: sends open-loop point queries (POST /query) at a fixed
// rate and reports their latencies. It runs off the bench's main thread, which also runs the
// validator's sync engine: measured there, a latency would include every apply slice of the
// measuring thread itself, whatever thread answered the request.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { postRequest, RawHttpClient } from './raw-http-client';

export interface LoadRequest {
  url: string;
  rate: number;
  seconds: number;
  rows: number;
}

export interface LoadReport {
  /**
   * Latencies in ms from each request's scheduled send time (or from when it was sent, when that
   * was up to 1 ms earlier), sorted.
   */
  latencies: number[];
  errors: number;
  /** A few error descriptions (status and body, or the socket error). */
  samples: string[];
  /** CPU time of this (load generator) thread, us: subtracted from the process's. */
  cpuUs: number;
}

const { url, rate, seconds, rows } = workerData as LoadRequest;
const target = new URL('/query', url);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// BENCH_CLIENT=node-http: node:http's client (its agent) instead of the raw one.
const raw = process.env.BENCH_CLIENT !== 'node-http';
const client = new RawHttpClient(target.hostname, Number(target.port), 64);
const send = raw
  ? (body: string) =>
      client
        .send(postRequest(target.hostname, Number(target.port), target.pathname, body))
        .then((r) => ({ status: r.status, text: r.body.toString() }))
  : post;

const cpu = process.threadCpuUsage();
const total = Math.round(rate * seconds);
const latencies: number[] = [];
const samples: string[] = [];
let errors = 0;
const start = performance.now() + 50;
const inflight: Promise<void>[] = [];
for (let i = 0; i < total; i++) {
  const at = start + (i * 1000) / rate;
  const wait = at - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const id = 1 + Math.floor(Math.random() * rows);
  const body = JSON.stringify({
    sql: 'SELECT owner, balance FROM accounts WHERE id = ?',
    params: [id],
  });
  // A request due within the next millisecond goes now (timers are not finer): its latency then
  // counts from when it was sent, never from a time before it left.
  const from = Math.min(at, performance.now());
  inflight.push(
    send(body).then(
      ({ status, text }) => {
        if (status === 200) latencies.push(performance.now() - from);
        else {
          errors++;
          if (samples.length < 5) samples.push(`${status} ${text.slice(0, 200)}`);
        }
      },
      (error: Error) => {
        errors++;
        if (samples.length < 5) samples.push(error.message);
      },
    ),
  );
}
await Promise.all(inflight);
agent.destroy();
client.close();
const used = process.threadCpuUsage(cpu);
const report: LoadReport = {
  latencies: latencies.sort((a, b) => a - b),
  errors,
  samples,
  cpuUs: used.user + used.system,
};
parentPort?.postMessage(report);
