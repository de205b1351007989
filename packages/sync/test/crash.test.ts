import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LtHash16, stateRootOfDatabase } from '@synddb/applier';
import { openStateStore } from '@synddb/state-store';
import { tempDir, testRandom } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { devnetWithWorkload, dumpReplica, dumpSource, openReplica } from './support';

const RUNS = Number(process.env.SYNDDB_CRASH_RUNS ?? 20);
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

interface ChildRun {
  start: bigint;
  lastApplied: bigint | null;
  halted: string[];
  done: boolean;
  killed: boolean;
}

/** Runs the child; kills it with SIGKILL `killAfterMs` after its first commit (never when null). */
function runChild(args: string[], killAfterMs: number | null): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', child, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const run: ChildRun = { start: -2n, lastApplied: null, halted: [], done: false, killed: false };
    let stderr = '';
    let buffered = '';
    let armed = false;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [word, value] = line.split(' ');
        if (word === 'start') run.start = BigInt(value ?? '-2');
        else if (word === 'applied') {
          run.lastApplied = BigInt(value ?? '-1');
          if (killAfterMs !== null && !armed) {
            armed = true;
            setTimeout(() => {
              run.killed = proc.kill('SIGKILL');
            }, killAfterMs);
          }
        } else if (word === 'halted') run.halted.push(line);
        else if (word === 'done') run.done = true;
      }
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(run);
    });
  });
}

describe('crash safety', () => {
  it(`kill -9 during apply, ${RUNS} times, then an identical replica, its state root, and no halt`, async () => {
    const { devnet, head } = await devnetWithWorkload(
      { transactions: 600, seed: 21, snapshotEvery: 150 },
      { batchMaxMessages: 25 },
    );
    const path = join(tempDir('synddb-sync-crash-'), 'replica.db');
    // When each kill lands: seeded, printed, replayable with SYNDDB_TEST_SEED.
    const killDelay = testRandom('crash test kill delays (ms after the first commit)');
    const args = [devnet.url, devnet.sequencer.pubkeyHex, path, head.toString()];

    let committed = -1n;
    let kills = 0;
    for (let i = 0; i < RUNS; i++) {
      const run = await runChild([...args, String(1 + (i % 8) * 5)], killDelay.int(40));
      expect(run.halted).toEqual([]);
      // what a killed run reported as committed is still there after the restart
      expect(run.start).toBeGreaterThanOrEqual(committed);
      if (run.lastApplied !== null && run.lastApplied > committed) committed = run.lastApplied;
      if (run.killed && !run.done) kills++;
      if (process.env.SYNDDB_CRASH_DEBUG)
        console.log(i, run.start, run.lastApplied, run.killed, run.done);
      if (run.done) break;
    }
    const final = await runChild(args, null);
    expect(final.halted).toEqual([]);
    expect(final.start).toBeGreaterThanOrEqual(committed);
    expect(final.done || final.start >= head).toBe(true);
    expect(kills).toBeGreaterThan(0);

    const db = openReplica(path);
    try {
      expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
      const check = db.pragma('integrity_check', { simple: true });
      expect(check).toBe('ok');
      // the state root's state committed with the cursor at every kill: it is exactly the root
      // of the content, as computed from scratch
      const state = openStateStore(db);
      const stored = state.stateRootState();
      expect(stored?.sequence).toBe(state.cursor()?.lastSequence);
      expect(Buffer.from(LtHash16.fromBytes(stored!.lthash).digest()).toString('hex')).toBe(
        Buffer.from(stateRootOfDatabase(db)).toString('hex'),
      );
    } finally {
      db.close();
    }
  }, 180_000);
});
