// Support of the hostile-clients release tests: the built validator under a lowered descriptor
// limit, hostile connections from other loopback addresses (127.0.0.2.., Linux routes all of
// 127/8 to lo), and what a legitimate client on 127.0.0.1 sees meanwhile.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { idleConnection, onCleanup } from '@synddb/test-support';
import { ROOT, tail, VALIDATOR_BIN, type ValidatorStatus } from './processes';

export interface LimitedValidator {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  status(): Promise<ValidatorStatus>;
}

/**
 * Starts the built validator with RLIMIT_NOFILE lowered to `nofile` (`ulimit -n` in a shell that
 * then execs node: same pid), so a few hundred connections reach the limit instead of 20,000.
 */
export async function startLimitedValidator(
  args: string[],
  options: { nofile: number; env?: NodeJS.ProcessEnv },
): Promise<LimitedValidator> {
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      `ulimit -n ${options.nofile} && exec "$0" "$@"`,
      process.execPath,
      // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the validator's time goes
      ...(process.env.SYNDDB_VALIDATOR_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      VALIDATOR_BIN,
      ...args,
    ],
    { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      lines.push(line);
      if (process.env.SYNDDB_RELEASE_ECHO === '1') console.log(`[validator] ${line}`);
      for (const w of watchers) w(line);
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const pattern = /synddb-validator started .*\burl=(http:\S+)/;
    const timer = setTimeout(
      () => reject(new Error(`validator did not start:\n${tail(lines)}`)),
      60_000,
    );
    const watch = (line: string) => {
      const m = pattern.exec(line);
      if (m) {
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(m[1]!);
      }
    };
    for (const line of lines) watch(line);
    watchers.add(watch);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`validator exited ${JSON.stringify(exit)}:\n${tail(lines)}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    lines,
    exited,
    async status() {
      return (await (await fetch(`${url}/status`)).json()) as ValidatorStatus;
    },
  };
}

/** Resident memory of `pid` now (VmRSS), bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Peak resident memory of `pid` (VmHWM), bytes. */
export function peakRssOf(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export { childrenOf, idleConnection, queryWorkersOf } from '@synddb/test-support';

/** Descriptors `pid` holds now. */
export function descriptorsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Sends `raw` (an HTTP request) on a new connection from `localAddress` and never reads. */
export async function neverReading(
  port: number,
  localAddress: string,
  raw: string,
): Promise<Socket> {
  const socket = await idleConnection(port, localAddress);
  socket.pause();
  if (!socket.destroyed) socket.write(raw);
  return socket;
}

/** A raw HTTP/1.1 POST with a JSON body. */
export function rawPost(path: string, body: unknown): string {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

/** One request from `localAddress` on a fresh connection: status, body and time taken. */
export function httpCall(
  port: number,
  path: string,
  options: { localAddress?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: payload === undefined ? 'GET' : 'POST',
        localAddress: options.localAddress ?? '127.0.0.1',
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', () => resolve({ status: -1, body: '', ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) =>
      resolve({ status: -1, body: e.message, ms: performance.now() - started }),
    );
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface Observation {
  /** Sequences the validator applied / the devnet produced during the window. */
  applied: number;
  produced: number;
  /** applied / produced. */
  pace: number;
  /** Slowest `/health` answer (ms) of the probes during the window; -1 if one failed. */
  healthMaxMs: number;
  healthProbes: number;
  /** Point queries answered 200 / sent. */
  pointOk: number;
  pointSent: number;
  /** Largest main-process RSS seen (bytes). */
  rssMax: number;
  /** `/health` latencies (ms), sorted. */
  health: number[];
  /**
   * Latencies (ms, sorted) of a bare HTTP server in its own process (`startControlServer`),
   * probed right after each `/health`: what the machine's own load costs a request that no
   * validator work delays. Empty without a control server.
   */
  control: number[];
  /** The first failed probe or point query, for the message. */
  failure: string | undefined;
}

/** The `q` quantile of sorted `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  return values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
}

/**
 * What a legitimate client sees for `windowMs` while an abuse runs: `/health` every 50 ms, a
 * point query every 200 ms (both from 127.0.0.1), the validator's RSS, and its sync pace against
 * the devnet's production.
 */
export async function observe(
  validator: LimitedValidator,
  devnetHead: () => Promise<bigint>,
  pointSql: string,
  windowMs: number,
  controlPort?: number,
): Promise<Observation> {
  const seq = async () => BigInt((await validator.status()).last_sequence ?? 0);
  const [s0, p0] = await Promise.all([seq(), devnetHead()]);
  const end = performance.now() + windowMs;
  let healthMaxMs = 0;
  let healthProbes = 0;
  let pointOk = 0;
  let pointSent = 0;
  let rssMax = 0;
  const latencies: number[] = [];
  const control: number[] = [];
  let failure: string | undefined;
  const health = (async () => {
    while (performance.now() < end) {
      const r = await httpCall(validator.port, '/health', { timeoutMs: 5000 });
      healthProbes++;
      latencies.push(r.ms);
      if (r.status !== 200) failure ??= `/health: ${r.status} ${r.body.slice(0, 200)}`;
      healthMaxMs = r.status === 200 && healthMaxMs >= 0 ? Math.max(healthMaxMs, r.ms) : -1;
      rssMax = Math.max(rssMax, rssOf(validator.pid));
      if (controlPort !== undefined) {
        control.push((await httpCall(controlPort, '/', { timeoutMs: 5000 })).ms);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const point = (async () => {
    while (performance.now() < end) {
      pointSent++;
      const r = await httpCall(validator.port, `/query?sql=${encodeURIComponent(pointSql)}`, {
        timeoutMs: 10_000,
      });
      if (r.status === 200) pointOk++;
      else failure ??= `point query: ${r.status} ${r.body.slice(0, 200)}`;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await Promise.all([health, point]);
  const [s1, p1] = await Promise.all([seq(), devnetHead()]);
  const applied = Number(s1 - s0);
  const produced = Number(p1 - p0);
  return {
    applied,
    produced,
    pace: produced === 0 ? 1 : applied / produced,
    healthMaxMs,
    healthProbes,
    pointOk,
    pointSent,
    rssMax,
    health: latencies.sort((a, b) => a - b),
    control: control.sort((a, b) => a - b),
    failure,
  };
}

/**
 * A bare HTTP server (answers `ok`) in its own Node process on 127.0.0.1, for `observe`'s
 * control probes; stopped at cleanup.
 */
export async function startControlServer(): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port); })",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolveLine, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`control server exited (${code})`)));
  });
  return Number(line);
}

/** A masked WebSocket text frame (client to server), payload < 126 bytes. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  if (payload.length >= 126) throw new Error('frame too long for this helper');
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const out = Buffer.alloc(2 + 4 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/**
 * A WebSocket upgrade to `/ws` from `localAddress` over a raw socket (the test package has no
 * WebSocket client with a local address); optionally subscribes to rows, then never reads.
 * Resolves with the upgrade's HTTP status (101 when accepted; -1 when the connection closed).
 */
export function rawWebSocket(
  port: number,
  localAddress: string,
  options: { subscribe?: boolean } = {},
): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    onCleanup(() => socket.destroy());
    let settled = false;
    const settle = (status: number) => {
      if (settled) return;
      settled = true;
      resolve({ status, socket });
    };
    socket.on('error', () => settle(-1));
    socket.once('close', () => settle(-1));
    socket.once('connect', () =>
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.once('data', (chunk: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
      if (status === 101 && options.subscribe) {
        socket.write(maskedTextFrame(JSON.stringify({ op: 'subscribe', channel: 'rows' })));
      }
      socket.pause(); // never reads again
      settle(status);
    });
  });
}
