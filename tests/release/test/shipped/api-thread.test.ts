/**
 * The built synddb-validator serves its main API from a worker thread (issue 13): SIGTERM stops
 * it cleanly with a WebSocket subscriber connected and a `min_sequence` wait pending (the API
 * thread closes both, the query worker processes exit, the process exits 0 well before the wait
 * would have ended), and the thread's log lines reach the process's log.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { childrenOf, queryWorkersOf } from '../support/hostile-load';
import { startDevnet, startValidator } from '../support/processes';
import { caughtUp, errorLines, validatorArgs } from '../support/validator-checks';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Niceness of `pid`'s threads by thread id, or of those named `name` (Linux /proc). */
function threadNiceness(pid: number): Map<number, number>;
function threadNiceness(pid: number, name: string): number[];
function threadNiceness(pid: number, name?: string): Map<number, number> | number[] {
  const all = new Map<number, number>();
  const named: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      all.set(Number(tid), nice);
      if (comm === name) named.push(nice);
    } catch {
      // the thread exited
    }
  }
  return name === undefined ? all : named;
}

describe('the built validator API thread', () => {
  it('stops on SIGTERM with a subscriber and a min_sequence wait: thread, workers and process end', async () => {
    const dir = tempDir('synddb-dist-api-thread-');
    const devnet = await startDevnet({
      directory: dir,
      args: ['--transactions', '60', '--rate', '2000', '--seed', '4', '--batch-max-messages', '10'],
    });
    const validator = await startValidator(
      validatorArgs(devnet, join(dir, 'replica.db'), {
        extra: ['--query-workers', '2', '--min-sequence-max-wait', '60s'],
      }),
    );
    await devnet.appDone();
    const head = await devnet.flushedHead();
    await caughtUp(validator, head);
    // the API thread's own log line, relayed to the process's logger
    expect(validator.lines.join('\n')).toMatch(/connection limits/);
    // V8's background threads yield the CPU to the API and engine threads (V8_BACKGROUND_NICENESS)
    if (process.platform === 'linux') {
      const pid = validator.child.pid!;
      const v8 = threadNiceness(pid, 'V8Worker');
      expect(v8.length).toBeGreaterThan(0);
      expect(new Set(v8)).toEqual(new Set([10]));
      expect(threadNiceness(pid).get(pid)).toBe(0);
      const startedLine = validator.lines.find((l) => l.includes('synddb-validator started'));
      expect(startedLine).toMatch(/\bv8BackgroundNiceness=10\b/);
      // V8_POOL_SIZE=auto: the binary relaunched itself (same process id) with cores - 1 threads
      // (1 to 4) where Node can exec
      if (typeof (process as { execve?: unknown }).execve === 'function') {
        const wanted = Math.max(1, Math.min(4, availableParallelism() - 1));
        expect(v8).toHaveLength(wanted);
        expect(startedLine).toMatch(new RegExp(`\\bv8PoolSize=${wanted}\\b`));
      }
    }
    // The process's only child is the query pool's spawner, which forked the two workers.
    const spawners = childrenOf(validator.child.pid!);
    expect(spawners).toHaveLength(1);
    const workers = queryWorkersOf(validator.child.pid!);
    expect(workers).toHaveLength(2);

    const ws = new WebSocket(`${validator.url.replace('http', 'ws')}/ws`);
    const frames: string[] = [];
    ws.addEventListener('message', (event) => frames.push(String(event.data)));
    const closed = new Promise<number>((resolve) =>
      ws.addEventListener('close', (event) => resolve(event.code)),
    );
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'sequences', id: 1 }));
    await waitFor(() => frames.some((f) => f.includes('"subscribed"')));

    const pending = fetch(`${validator.url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'SELECT 1', min_sequence: Number(head) + 1_000_000 }),
    }).then(
      (res) => res.status,
      () => 'connection closed',
    );
    await new Promise((r) => setTimeout(r, 300));

    const started = performance.now();
    validator.kill('SIGTERM');
    expect(await validator.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(await closed).toBe(1001);
    expect([503, 'connection closed']).toContain(await pending);
    await waitFor(
      () => [...workers, ...spawners].every((pid) => !alive(pid)),
      'the query workers and their spawner exited',
    );
    expect(validator.lines.join('\n')).toContain('synddb-validator stopped');
    expect(errorLines(validator.lines)).toEqual([]);
    devnet.kill('SIGTERM');
  });
});
