/**
 * Issue 13, "no client can take the validator down": the built synddb-validator (2 query workers,
 * 5 s query timeout, bridge signer on) following a devnet live, under each abuse the issue found,
 * one at a time. Hostile clients connect from 127.0.0.2.. (several addresses when the abuse
 * needs many clients), the legitimate client from 127.0.0.1. Each scenario asserts, for its
 * window: sync keeps its pace (>= 0.8 of what the devnet produced), `/health` answers within
 * 100 ms (HEALTH_MS), every point query succeeds, and the main process stays under 1 GB RSS.
 *
 * Scaled to ~2 minutes on 2 cores: the descriptor limit is lowered to NOFILE (1024) with
 * `ulimit -n`, so ~1,200 connections exhaust it instead of 20,000; windows are WINDOW_MS.
 * Knobs: SYNDDB_HOSTILE_WINDOW_MS, SYNDDB_HOSTILE_SCALE (multiplies the abuse sizes). Every
 * scenario runs (see the note below on the two that were opt-in).
 */
import { join } from 'node:path';
import { tempDir, waitFor } from '@synddb/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  childrenOf,
  descriptorsOf,
  httpCall,
  idleConnection,
  type LimitedValidator,
  neverReading,
  type Observation,
  observe,
  peakRssOf,
  quantile,
  queryWorkersOf,
  rawPost,
  rawWebSocket,
  startControlServer,
  startLimitedValidator,
} from '../support/hostile-load';
import { type Devnet, startDevnet } from '../support/processes';
import { validatorArgs } from '../support/validator-checks';

const NOFILE = 1024;
const WINDOW_MS = Number(process.env.SYNDDB_HOSTILE_WINDOW_MS ?? 5000);
const SCALE = Number(process.env.SYNDDB_HOSTILE_SCALE ?? 1);
const HEALTH_MS = 100;
/**
 * Every scenario runs by default since 2026-12-06 (the two below were opt-in until then):
 * - never-reading clients: failed 4 runs of 4 at load average 8-13 on 2026-12-06, the window's
 *   first point query answered 504 QUERY_TIMEOUT after 10 s: both query workers were held by the
 *   8 MB queries of the clients that never read. Point reads (@synddb/query `pointReads`, on in
 *   the validator) answer that point query on the API thread, without a worker: 2 runs of 2 at
 *   load 4-8 passed (/health p90 98 and 159 ms against control-adjusted limits of 149 and
 *   368 ms, pace 0.89-1.06, every point query answered).
 * - WebSocket slot hog: since the fan-out writes each commit's frames, built once per
 *   subscription shape, in one socket write per subscriber (was: every frame encoded and written
 *   per subscriber; /health p90 985 ms): 7 runs of 7 at load 4-13, /health p90 25-77 ms, pace
 *   1.00-1.03, every point query answered.
 */
const RSS_LIMIT = 1024 ** 3;
const POINT_SQL = 'SELECT id, balance FROM accounts WHERE id = 1';
const NEVER_ENDING =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';

let devnet: Devnet;
let validator: LimitedValidator;
let controlPort: number;
const results: Record<string, Observation> = {};

/**
 * 100 ms; on a machine that is slower than that without abuse, 1.5x the baseline's p90; and on
 * a machine loaded by other jobs during the window (two CI runs at once on 2 cores), 100 ms more
 * than twice the p90 that a bare HTTP server in another process measured in the same window (the
 * control probes: delay that the machine, not the validator, adds to every request). On a quiet
 * machine the control's p90 is about 1 ms and the bar stays 100 ms.
 */
function healthLimit(o?: Observation): number {
  const base = results.baseline;
  const control = o === undefined || o.control.length === 0 ? 0 : quantile(o.control, 0.9);
  return Math.max(
    HEALTH_MS,
    base === undefined ? 0 : 1.5 * quantile(base.health, 0.9),
    HEALTH_MS + 2 * control,
  );
}

async function devnetHead(): Promise<bigint> {
  const s = (await (await fetch(`${devnet.url}/status`)).json()) as { current_sequence: number };
  return BigInt(s.current_sequence) - 1n;
}

/** The legitimate client's view of a window while `abuse` runs; asserts the issue's bar. */
async function underAbuse(name: string, abuse: () => Promise<() => Promise<void> | void>) {
  const stop = await abuse();
  let o: Observation;
  try {
    o = await observe(validator, devnetHead, POINT_SQL, WINDOW_MS, controlPort);
  } finally {
    await stop();
  }
  results[name] = o;
  const { health, control, ...rest } = o;
  const summary = JSON.stringify({
    ...rest,
    healthP50: quantile(health, 0.5),
    healthP90: quantile(health, 0.9),
    controlP90: control.length === 0 ? null : quantile(control, 0.9),
    healthLimit: healthLimit(o),
  });
  expect(o.failure, `${name}: ${summary}`).toBeUndefined();
  expect(o.healthMaxMs, `/health during ${name}: ${summary}`).toBeGreaterThanOrEqual(0);
  // /health within 100 ms at the 90th percentile; on a loaded machine (other jobs on the same 2
  // cores) more, by what the baseline and the control probes measured (see healthLimit).
  expect(quantile(health, 0.9), `/health during ${name}: ${summary}`).toBeLessThan(healthLimit(o));
  expect(o.pointOk, `point queries during ${name}: ${summary}`).toBe(o.pointSent);
  expect(o.pace, `sync pace during ${name}: ${summary}`).toBeGreaterThanOrEqual(0.8);
  expect(o.rssMax, `main RSS during ${name}: ${summary}`).toBeLessThan(RSS_LIMIT);
  expect(validator.lines.join('\n')).not.toMatch(/SQLITE_CANTOPEN|EMFILE/);
  return o;
}

/** Loopback addresses for `n` hostile clients. */
const addresses = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);

beforeAll(async () => {
  controlPort = await startControlServer();
  const dir = tempDir('synddb-hostile-');
  devnet = await startDevnet({
    directory: dir,
    args: [
      '--transactions',
      '0',
      '--rate',
      '200',
      '--snapshot-every',
      '0',
      '--batch-max-messages',
      '20',
      '--flush-interval-ms',
      '200',
    ],
  });
  validator = await startLimitedValidator(
    validatorArgs(devnet, join(dir, 'replica.db'), {
      extra: [
        '--query-workers',
        '2',
        '--query-timeout',
        '5s',
        '--rate-limit',
        '200',
        '--rate-limit-burst',
        '400',
      ],
    }),
    { nofile: NOFILE },
  );
  // Following live: the sample app's accounts exist and the lag is small.
  await waitFor(
    async () => {
      const [s, head] = await Promise.all([validator.status(), devnetHead()]);
      const r = await httpCall(validator.port, `/query?sql=${encodeURIComponent(POINT_SQL)}`);
      return (
        r.status === 200 &&
        JSON.parse(r.body).rows.length === 1 &&
        head - BigInt(s.last_sequence ?? 0) < 100n
      );
    },
    { what: 'the validator following the devnet', timeoutMs: 60_000, intervalMs: 200 },
  );
});

afterAll(() => {
  if (Object.keys(results).length > 0) {
    console.log(
      'hostile clients (window %d ms):\n%s',
      WINDOW_MS,
      Object.entries(results)
        .map(
          ([name, o]) =>
            `  ${name.padEnd(28)} pace ${o.pace.toFixed(2)} (${o.applied}/${o.produced})  /health p50 ${quantile(o.health, 0.5).toFixed(1)} p90 ${quantile(o.health, 0.9).toFixed(1)} max ${o.healthMaxMs.toFixed(1)} ms (${o.healthProbes}, control p90 ${o.control.length === 0 ? '-' : quantile(o.control, 0.9).toFixed(1)})  point ${o.pointOk}/${o.pointSent}  RSS max ${(o.rssMax / 2 ** 20).toFixed(0)} MiB${o.failure ? `  FAILED ${o.failure}` : ''}`,
        )
        .join('\n'),
    );
  }
});

describe('the built validator under hostile clients', () => {
  it('baseline: no abuse', async () => {
    await underAbuse('baseline', async () => () => {});
  });

  it('halt sync: a connection flood past the descriptor limit (NOFILE 1024)', async () => {
    const sockets: { destroy(): void }[] = [];
    await underAbuse('connection flood', async () => {
      // 10 clients x 130 idle connections = 1,300 > 1,024 descriptors.
      for (const address of addresses(10)) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: Math.round(130 * SCALE) }, () =>
              idleConnection(validator.port, address),
            ),
          )),
        );
      }
      // The validator holds at most its cap: descriptors stay below the limit.
      expect(descriptorsOf(validator.pid)).toBeLessThan(NOFILE - 200);
      return () => {
        for (const s of sockets) s.destroy();
      };
    });
  });

  it('kill reads for good: a query worker killed during the flood is replaced', async () => {
    const sockets: { destroy(): void }[] = [];
    const before = queryWorkersOf(validator.pid);
    expect(before).toHaveLength(2);
    // The validator's one child is the spawner that forks the workers: the validator never forks
    // after start (a fork stalls its thread, which answers /health, for 10-70 ms).
    const direct = childrenOf(validator.pid);
    expect(direct).toHaveLength(1);
    await underAbuse('worker killed in flood', async () => {
      for (const address of addresses(10)) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: 130 }, () => idleConnection(validator.port, address)),
          )),
        );
      }
      for (const pid of before) process.kill(pid, 'SIGKILL');
      await waitFor(
        async () =>
          // both replacements up (not a killed worker still listed before its exit was seen)
          queryWorkersOf(validator.pid).filter((pid) => !before.includes(pid)).length === 2 &&
          (await httpCall(validator.port, '/ready')).status === 200,
        { what: 'replacement workers', timeoutMs: 20_000 },
      );
      return () => {
        for (const s of sockets) s.destroy();
      };
    });
    expect(queryWorkersOf(validator.pid).some((pid) => !before.includes(pid))).toBe(true);
    expect(childrenOf(validator.pid)).toEqual(direct);
  });

  it('grow memory: 300 connections that ask for ~8 MB and never read', async () => {
    const sockets: { destroy(): void }[] = [];
    await underAbuse('never-reading clients', async () => {
      const raw = rawPost('/query', { sql: "SELECT hex(zeroblob(4000000)) || ''" });
      for (const address of addresses(10)) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: Math.round(30 * SCALE) }, () =>
              neverReading(validator.port, address, raw),
            ),
          )),
        );
      }
      return () => {
        for (const s of sockets) s.destroy();
      };
    });
  });

  it('amplify through JSON-RPC: batches of 60 synddb_query of ~8 MB each', async () => {
    let running = true;
    const loops: Promise<void>[] = [];
    await underAbuse('JSON-RPC batches', async () => {
      const batch = Array.from({ length: 60 }, (_, id) => ({
        jsonrpc: '2.0',
        id,
        method: 'synddb_query',
        params: { sql: "SELECT hex(zeroblob(4000000)) || ''" },
      }));
      for (const address of addresses(3)) {
        loops.push(
          (async () => {
            while (running) {
              const r = await httpCall(validator.port, '/rpc', {
                localAddress: address,
                body: batch,
              });
              // One result's worth, not 60.
              expect(r.body.length).toBeLessThan(9 * 1024 * 1024);
            }
          })(),
        );
      }
      return async () => {
        running = false;
        await Promise.all(loops);
      };
    });
  });

  it('bloat a worker: rows of several zeroblob/randomblob columns', async () => {
    let running = true;
    const loops: Promise<void>[] = [];
    const codes = new Set<string>();
    await underAbuse('zeroblob rows', async () => {
      for (const sql of [
        'SELECT zeroblob(1000000000), zeroblob(1000000000), zeroblob(1000000000)',
        'SELECT randomblob(500000000), randomblob(500000000)',
      ]) {
        loops.push(
          (async () => {
            while (running) {
              const r = await httpCall(validator.port, '/query', {
                localAddress: '127.0.0.2',
                body: { sql },
              });
              // 429: the client's rate limit (RATE_LIMIT 200/s), not what this checks.
              if (r.status !== 429) {
                codes.add(r.status === 422 ? JSON.parse(r.body).code : String(r.status));
              }
              await new Promise((r) => setTimeout(r, 20));
            }
          })(),
        );
      }
      return async () => {
        running = false;
        await Promise.all(loops);
      };
    });
    expect([...codes]).toEqual(['QUERY_SIZE_LIMIT']);
    // The workers never built those rows (GBs).
    for (const pid of queryWorkersOf(validator.pid))
      expect(peakRssOf(pid)).toBeLessThan(300 * 2 ** 20);
  });

  it('starve readers: 200 concurrent never-ending queries from several clients', async () => {
    let running = true;
    const loops: Promise<void>[] = [];
    await underAbuse('never-ending queries', async () => {
      for (const address of addresses(4)) {
        for (let i = 0; i < 50 * SCALE; i++) {
          loops.push(
            (async () => {
              while (running) {
                const r = await httpCall(validator.port, '/query', {
                  localAddress: address,
                  body: { sql: NEVER_ENDING },
                });
                // Refused at once (429, Retry-After: 1): keep the concurrency, do not spin.
                if (r.ms < 100) await new Promise((r) => setTimeout(r, 1000));
              }
            })(),
          );
        }
      }
      await new Promise((r) => setTimeout(r, 500));
      return async () => {
        running = false;
        await Promise.all(loops);
      };
    });
  });

  it('starve readers: a timeout_ms: 1 storm forks no worker per request', async () => {
    // The previous scenario's statements may still be interrupted: wait for stable workers.
    let stable = '';
    await waitFor(
      async () => {
        const now = queryWorkersOf(validator.pid).sort().join();
        const ready = (await httpCall(validator.port, '/ready')).status === 200;
        const same = now === stable;
        stable = now;
        return ready && same && queryWorkersOf(validator.pid).length === 2;
      },
      { what: 'stable query workers', timeoutMs: 30_000, intervalMs: 1500 },
    );
    const workers = queryWorkersOf(validator.pid).sort();
    let running = true;
    let sent = 0;
    const loops: Promise<void>[] = [];
    await underAbuse('timeout_ms: 1 storm', async () => {
      for (const address of addresses(4)) {
        for (let i = 0; i < 8; i++) {
          loops.push(
            (async () => {
              while (running) {
                sent++;
                await httpCall(validator.port, '/query', {
                  localAddress: address,
                  body: { sql: 'SELECT count(*) FROM accounts', timeout_ms: 1 },
                });
                await new Promise((r) => setTimeout(r, 20));
              }
            })(),
          );
        }
      }
      return async () => {
        running = false;
        await Promise.all(loops);
      };
    });
    expect(sent).toBeGreaterThan(100);
    expect(queryWorkersOf(validator.pid).sort()).toEqual(workers);
  });

  it('starve readers: 2,000 far-future min_sequence waits', async () => {
    const sockets: { destroy(): void }[] = [];
    await underAbuse('far-future min_sequence', async () => {
      const raw = rawPost('/query', { sql: 'SELECT 1', min_sequence: '99999999999' });
      for (const address of addresses(63)) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: Math.round(32 * SCALE) }, () =>
              neverReading(validator.port, address, raw),
            ),
          )),
        );
      }
      return () => {
        for (const s of sockets) s.destroy();
      };
    });
  });

  it('hold every WebSocket slot: one client, and 300 subscribers that never read', async () => {
    const sockets: { destroy(): void }[] = [];
    const open = async (localAddress: string, subscribe: boolean) => {
      const { status, socket } = await rawWebSocket(validator.port, localAddress, { subscribe });
      sockets.push(socket);
      return status;
    };
    await underAbuse('WebSocket slot hog', async () => {
      const hog = await Promise.all(Array.from({ length: 1000 }, () => open('127.0.0.2', false)));
      expect(hog.filter((s) => s === 101).length).toBeLessThanOrEqual(16);
      for (const address of addresses(20)) {
        await Promise.all(Array.from({ length: 15 }, () => open(address, true)));
      }
      // A legitimate subscriber still gets a slot.
      expect(await open('127.0.0.1', false)).toBe(101);
      return () => {
        for (const s of sockets) s.destroy();
      };
    });
  });

  it('stops cleanly on SIGTERM after all of the above', async () => {
    const started = performance.now();
    validator.child.kill('SIGTERM');
    expect(await validator.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});
