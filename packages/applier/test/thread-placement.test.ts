// threadCpu / leaveCpu (native/blake3-lthash-native.c, src/state-root/thread-placement.ts): the
// calling thread's CPU, and a move off a CPU that leaves the thread's affinity as it was. Each
// case runs in a child process started under `taskset` with a known affinity.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { leaveCpu, threadCpu } from '../src/index';
import { loadNativeAddon } from '../src/state-root/native-kernel';

const native = loadNativeAddon().addon !== undefined;
const child = fileURLToPath(new URL('./placement-child.ts', import.meta.url));

interface Probe {
  cpu: number;
  notHere: boolean;
  from: number;
  moved: boolean;
  after: number;
  affinityBefore: string;
  affinityAfter: string;
  invalid: boolean[];
}

/** The child's probes of its main thread and of a worker, under `taskset -c cpus`. */
function probeUnder(cpus: string): { main: Probe; worker: Probe } {
  const r = spawnSync(
    'taskset',
    ['-c', cpus, process.execPath, '--conditions=source', '--import', 'tsx', child],
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Two CPUs this process may run on (taskset's list syntax), or undefined. */
function twoAllowedCpus(): [number, number] | undefined {
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  const list = /:\s*(\S+)\s*$/.exec(r.stdout ?? '')?.[1];
  if (r.status !== 0 || list === undefined) return undefined;
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) cpus.push(c);
  }
  return cpus.length >= 2 ? [cpus[0]!, cpus[1]!] : undefined;
}

const taskset = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');
const two = taskset ? twoAllowedCpus() : undefined;

describe('thread placement', () => {
  it('without a CPU to leave, or without the addon, does nothing', () => {
    for (const bad of [-1, 0.5, Number.NaN, 1 << 20]) expect(leaveCpu(bad)).toBe(false);
    const cpu = threadCpu();
    if (!native) {
      expect(cpu).toBe(-1);
      expect(leaveCpu(0)).toBe(false);
    } else {
      expect(Number.isInteger(cpu) && cpu >= 0).toBe(true);
    }
  });

  it.runIf(native && two !== undefined)(
    'moves the calling thread (main or worker) off the CPU it runs on, to another it may use, and restores its affinity',
    () => {
      const [a, b] = two!;
      const { main, worker } = probeUnder(`${a},${b}`);
      for (const p of [main, worker]) {
        expect([a, b]).toContain(p.cpu);
        expect(p.notHere).toBe(false);
        expect(p.moved).toBe(true);
        expect(p.after).not.toBe(p.from);
        expect([a, b]).toContain(p.after);
        // never held there: the affinity is as it was
        expect(p.affinityAfter).toBe(p.affinityBefore);
        expect(p.invalid).toEqual([false, false, false, false]);
      }
    },
  );

  it.runIf(native && two !== undefined)('stays on the only CPU its affinity allows', () => {
    const [a] = two!;
    const { main, worker } = probeUnder(String(a));
    for (const p of [main, worker]) {
      expect(p.from).toBe(a);
      expect(p.moved).toBe(false);
      expect(p.after).toBe(a);
      expect(p.affinityAfter).toBe(String(a));
    }
  });
});
