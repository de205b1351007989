import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the direct children of `pid` (Linux `/proc`; empty once it is gone). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (text !== '') out.push(...text.split(/\s+/).map(Number));
      } catch {}
    }
  } catch {}
  return out;
}

/** The command line of `pid`, arguments joined by NUL ('' once it is gone). */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Whether `pid` runs (exists and is not a zombie waiting to be reaped). */
export function isRunning(pid: number): boolean {
  try {
    return !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The query workers under `pid` (a process running a `@synddb/query` pool): the children of its
 * worker spawner (`worker-spawner.*`), which forks them so the pool's process never forks.
 */
export function queryWorkersOf(pid: number): number[] {
  return childrenOf(pid)
    .filter((child) => commandOf(child).includes('worker-spawner'))
    .flatMap((spawner) => childrenOf(spawner))
    .filter((worker) => commandOf(worker).includes('query-worker'));
}
