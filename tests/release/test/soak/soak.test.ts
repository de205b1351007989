/**
 * `pnpm soak`: the built validator in bridge signer mode under forced garbage collection for
 * SYNDDB_SOAK_MINUTES (default 2) against live devnet traffic with snapshots, schema changes and
 * withdrawals, while clients query it. better-sqlite3 12.x aborted the process here on Node 24
 * (`(env) != nullptr` in a Statement finalizer); no abort, no error log and a flat RSS are required.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@synddb/test-support';
import { expect, it } from 'vitest';
import { startDevnet, startValidator, tail } from '../support/processes';
import { dumpDatabase, integrityCheck } from '../support/sqlite-dump';
import {
  caughtUp,
  errorLines,
  expectEveryWithdrawalSigned,
  validatorArgs,
} from '../support/validator-checks';

const minutes = Number(process.env.SYNDDB_SOAK_MINUTES ?? 2);
const rate = Number(process.env.SYNDDB_SOAK_RATE ?? 100);
const forceGc = fileURLToPath(new URL('./force-gc.mjs', import.meta.url));

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

it(`runs ${minutes} min under forced GC: no abort, no error log, flat RSS, replica equal to the source`, async () => {
  const transactions = Math.ceil(rate * minutes * 60);
  const dir = tempDir('synddb-soak-');
  const devnet = await startDevnet({
    directory: dir,
    args: [
      '--transactions',
      String(transactions),
      '--rate',
      String(rate),
      '--snapshot-every',
      '500',
      '--schema-change-every',
      '1500',
      '--batch-max-messages',
      '20',
      '--flush-interval-ms',
      '250',
      '--seed',
      '5',
    ],
  });
  const replica = join(dir, 'replica.db');
  const validator = await startValidator(validatorArgs(devnet, replica), {
    nodeArgs: ['--expose-gc', '--import', forceGc],
    env: { SYNDDB_SOAK_GC_MS: '50' },
  });
  const pid = validator.child.pid!;
  const started = Date.now();
  console.log(
    `soak: ${transactions} transactions at ${rate}/s (>= ${minutes} min), validator pid ${pid}, gc every 50 ms`,
  );

  // Clients: point and scan queries, the signature API and metrics, all the time.
  let stop = false;
  let queries = 0;
  let failures = 0;
  const clients = (async () => {
    while (!stop) {
      const results = await Promise.allSettled([
        fetch(`${validator.url}/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            sql: 'SELECT owner, count(*) AS n, CAST(sum(balance) AS TEXT) AS total FROM accounts GROUP BY owner',
          }),
        }).then((r) => r.json()),
        fetch(`${validator.signatureUrl}/pending`).then((r) => r.json()),
        fetch(`${validator.url}/metrics`).then((r) => r.text()),
        fetch(`${validator.url}/status`).then((r) => r.json()),
      ]);
      queries += results.length;
      failures += results.filter((r) => r.status === 'rejected').length;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // RSS from /proc, and the V8 heap in use from the validator's own default metrics.
  const samples: { at: number; rss: number; heap: number }[] = [];
  const sampler = setInterval(() => {
    if (validator.child.exitCode !== null) return;
    const rss = rssMiB(pid);
    void fetch(`${validator.url}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        const used = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1]);
        samples.push({ at: Date.now() - started, rss, heap: used / 2 ** 20 });
      })
      .catch(() => {});
  }, 2000);

  const exitedEarly = validator.exited.then((exit) => {
    throw new Error(
      `the validator exited during the soak: ${JSON.stringify(exit)}\n${tail(validator.lines)}`,
    );
  });
  await Promise.race([devnet.appDone(minutes * 60_000 * 3 + 120_000), exitedEarly]);
  const head = await devnet.flushedHead();
  await Promise.race([caughtUp(validator, head), exitedEarly]);
  stop = true;
  await clients;
  clearInterval(sampler);
  const withdrawals = await expectEveryWithdrawalSigned(validator, devnet.appDb);
  const elapsed = (Date.now() - started) / 60_000;

  validator.kill('SIGTERM');
  const exit = await validator.exited;
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const early = median(samples.slice(quarter, 2 * quarter).map((s) => s.rss));
  const late = median(samples.slice(-quarter).map((s) => s.rss));
  console.log(
    [
      `soak: ${elapsed.toFixed(1)} min, head ${head}, ${withdrawals} withdrawals signed, ${queries} client requests (${failures} failed)`,
      `soak: RSS MiB min ${Math.min(...samples.map((s) => s.rss)).toFixed(0)}, max ${Math.max(...samples.map((s) => s.rss)).toFixed(0)}, 2nd quarter median ${early.toFixed(0)}, last quarter median ${late.toFixed(0)} (${samples.length} samples)`,
      `soak: RSS series ${samples.map((s) => s.rss.toFixed(0)).join(' ')}`,
      `soak: heap used MiB series ${samples.map((s) => s.heap.toFixed(0)).join(' ')}`,
    ].join('\n'),
  );

  expect(elapsed).toBeGreaterThanOrEqual(minutes);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(errorLines(validator.lines)).toEqual([]);
  expect(failures).toBe(0);
  // Flat: the last quarter's median within 25% (and 64 MiB) of the second quarter's.
  expect(late - early).toBeLessThan(Math.max(16, Math.min(64, early * 0.25)));
  expect(dumpDatabase(replica)).toEqual(dumpDatabase(devnet.appDb));
  expect(integrityCheck(replica)).toBe('ok');
});
