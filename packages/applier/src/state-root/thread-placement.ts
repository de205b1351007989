import { loadNativeAddon } from './native-kernel';

/**
 * Placement of a thread that works beside a busy one, for Linux's scheduler: a thread woken by
 * another often wakes on the waker's CPU when every CPU is busy (say, the other one with threads
 * at a higher niceness), and the periodic balancing of busy CPUs can leave both there for tens of
 * milliseconds, each at half speed. The UPDATE resolver's worker of `@synddb/sync` checks at each
 * job whether it runs on the applying thread's CPU and, if so, moves off it.
 *
 * Linux x64 with the native addon (the state root's kernel); elsewhere `threadCpu()` is -1 and
 * `leaveCpu()` does nothing.
 */

/** The CPU the calling thread runs on now, or -1 when unknown. */
export function threadCpu(): number {
  const addon = loadNativeAddon().addon;
  return addon?.threadCpu?.() ?? -1;
}

/**
 * Moves the calling thread off `cpu` when it runs there and its CPU affinity allows another one:
 * its affinity without `cpu` for the move (the kernel migrates it at once), then its affinity as
 * it was (the thread is never held anywhere; it stays where it went until the scheduler moves
 * it). Returns whether it moved; false for -1, a CPU it is not on, or a single allowed CPU.
 */
export function leaveCpu(cpu: number): boolean {
  if (!Number.isInteger(cpu) || cpu < 0) return false;
  const addon = loadNativeAddon().addon;
  return addon?.leaveCpu?.(cpu) ?? false;
}
