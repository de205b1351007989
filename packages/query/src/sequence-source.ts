/**
 * Where the replica is: the last applied sequence and a signal when it moves. The sync engine
 * fits (`status().lastSequence`, `'applied'` / `'snapshot'` events); see `sequenceSourceFromEngine`.
 */
export interface SequenceSource {
  lastSequence(): bigint | null;
  /** Calls `listener` after each commit; returns an unsubscribe function. */
  onApplied(listener: () => void): () => void;
}

/**
 * What `sequenceSourceFromEngine` needs of an engine: a `SyncEngine` of `@synddb/sync` fits. (This
 * package does not depend on the sync engine; any writer that reports its commits can drive
 * `min_sequence` waits.)
 */
export interface AppliedEventSource {
  status(): { lastSequence: bigint | null };
  on(event: 'applied' | 'snapshot', listener: () => void): unknown;
  off(event: 'applied' | 'snapshot', listener: () => void): unknown;
}

/** A `SequenceSource` over an engine with `status()` and `'applied'`/`'snapshot'` events. */
export function sequenceSourceFromEngine(engine: AppliedEventSource): SequenceSource {
  return {
    lastSequence: () => engine.status().lastSequence,
    onApplied(listener) {
      engine.on('applied', listener);
      engine.on('snapshot', listener);
      return () => {
        engine.off('applied', listener);
        engine.off('snapshot', listener);
      };
    },
  };
}

/**
 * Waits for sequences, driven by the source's commit events: one subscription for all waiters,
 * kept sorted by the sequence they wait for, so a commit wakes exactly the waiters it satisfies
 * and a far-future wait costs nothing until its deadline (no polling, no query re-runs).
 */
export interface SequenceWaiters {
  /**
   * Resolves true once the source reports `min`, false at `deadline` (a `performance.now()`
   * time). Without a source it resolves true after a short delay (the caller re-checks).
   */
  wait(min: bigint, deadline: number): Promise<boolean>;
  /** Waits pending now. */
  readonly size: number;
  /** Resolves every pending wait with false and unsubscribes. */
  close(): void;
}

interface Waiter {
  min: bigint;
  resolve(reached: boolean): void;
  timer: NodeJS.Timeout;
}

/** Poll interval without a source: the worker re-checks inside its snapshot. */
const SOURCELESS_POLL_MS = 25;

export function createSequenceWaiters(source: SequenceSource | undefined): SequenceWaiters {
  /** Ascending by `min`. */
  const waiters: Waiter[] = [];
  let unsubscribe: (() => void) | undefined;

  const reached = (min: bigint) => {
    const last = source?.lastSequence() ?? null;
    return last !== null && last >= min;
  };
  const remove = (waiter: Waiter) => {
    const at = waiters.indexOf(waiter);
    if (at >= 0) waiters.splice(at, 1);
    if (waiters.length === 0 && unsubscribe !== undefined) {
      unsubscribe();
      unsubscribe = undefined;
    }
  };
  const onApplied = () => {
    const last = source?.lastSequence() ?? null;
    if (last === null) return;
    let n = 0;
    while (n < waiters.length && waiters[n]!.min <= last) n++;
    if (n === 0) return;
    const woken = waiters.splice(0, n);
    if (waiters.length === 0 && unsubscribe !== undefined) {
      unsubscribe();
      unsubscribe = undefined;
    }
    for (const w of woken) {
      clearTimeout(w.timer);
      w.resolve(true);
    }
  };

  return {
    get size() {
      return waiters.length;
    },
    wait(min, deadline) {
      if (source !== undefined && reached(min)) return Promise.resolve(true);
      const remaining = deadline - performance.now();
      if (remaining <= 0) return Promise.resolve(false);
      if (source === undefined) {
        return new Promise((resolve) =>
          setTimeout(() => resolve(true), Math.min(SOURCELESS_POLL_MS, remaining)),
        );
      }
      return new Promise((resolve) => {
        const waiter: Waiter = {
          min,
          resolve,
          timer: setTimeout(() => {
            remove(waiter);
            resolve(false);
          }, remaining),
        };
        let lo = 0;
        let hi = waiters.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (waiters[mid]!.min <= min) lo = mid + 1;
          else hi = mid;
        }
        waiters.splice(lo, 0, waiter);
        unsubscribe ??= source.onApplied(onApplied);
      });
    },
    close() {
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(false);
      }
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}

/**
 * Resolves true once `source` reports `min` (or, without a source, after a short delay: the
 * worker re-checks inside its snapshot), false at `deadline` (a `performance.now()` time). One
 * wait; a service with many waits uses `createSequenceWaiters` (one subscription for all).
 */
export function waitForSequence(
  source: SequenceSource | undefined,
  min: bigint,
  deadline: number,
): Promise<boolean> {
  const waiters = createSequenceWaiters(source);
  return waiters.wait(min, deadline);
}
