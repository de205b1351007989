// V8's platform threads (`V8Worker`, `--v8-pool-size`, 4 by default) run every isolate's
// background work: concurrent marking, parallel scavenge and sweep helpers, background
// compilation. They are started with the process at normal priority, so on a machine with few
// cores they take the CPU from the threads that answer requests for milliseconds at a time: in
// the validator's read bench on 2 cores, V8Worker threads held the CPUs during 15 of the API
// thread's 15 waits of over 2 ms for a core. At a higher niceness they run on what the
// latency-bound threads leave; idle cores still run them at once.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Thread names (`/proc/<pid>/task/<tid>/comm`) of V8's platform worker threads. */
const V8_THREAD_NAMES = new Set(['V8Worker']);

export interface NicedThreads {
  /** Threads whose niceness was set. */
  threads: number;
  /** Why nothing was set (not Linux, no /proc, refused), when nothing was. */
  note?: string;
}

/**
 * Sets the niceness of this process's V8 platform worker threads (Linux, per thread; a value of
 * 0 leaves them as they are). Raising one's own threads' niceness needs no privilege. Returns how
 * many threads were set, or why none were.
 */
export function niceV8BackgroundThreads(niceness: number): NicedThreads {
  if (!Number.isSafeInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new RangeError(`niceness must be an integer in [0, 19], got ${niceness}`);
  }
  if (niceness === 0) return { threads: 0, note: 'niceness 0: left as they are' };
  if (process.platform !== 'linux') return { threads: 0, note: `not on ${process.platform}` };
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch (error) {
    return { threads: 0, note: `cannot list /proc/self/task: ${(error as Error).message}` };
  }
  let threads = 0;
  let refused: string | undefined;
  for (const tid of tids) {
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread has exited
    }
    if (!V8_THREAD_NAMES.has(name)) continue;
    try {
      setPriority(Number(tid), niceness);
      threads++;
    } catch (error) {
      refused ??= (error as Error).message;
    }
  }
  if (threads > 0) return { threads };
  return { threads: 0, note: refused ?? 'no V8Worker threads found' };
}
