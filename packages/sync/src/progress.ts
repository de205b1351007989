import type { SyncProgress } from './types';

/** Computes catch-up rate and ETA over the interval since the last report. */
export class ProgressTracker {
  #lastAt: number;
  #lastApplied: bigint | null;
  readonly #intervalMs: number;

  constructor(intervalMs: number, now: number, applied: bigint | null) {
    this.#intervalMs = intervalMs;
    this.#lastAt = now;
    this.#lastApplied = applied;
  }

  /** Returns a progress report when the interval has elapsed, otherwise null. */
  sample(now: number, applied: bigint | null, head: bigint | null): SyncProgress | null {
    const elapsed = now - this.#lastAt;
    if (elapsed < this.#intervalMs) return null;
    const done = applied === null ? 0n : applied - (this.#lastApplied ?? -1n);
    const rate = elapsed > 0 ? (Number(done) * 1000) / elapsed : 0;
    const remaining = head === null || applied === null ? null : head - applied;
    const etaSeconds =
      remaining === null || rate <= 0 ? null : Math.max(0, Number(remaining) / rate);
    this.#lastAt = now;
    this.#lastApplied = applied;
    return { applied, head, rate, etaSeconds };
  }
}
