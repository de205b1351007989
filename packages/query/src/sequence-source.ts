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
 * Resolves true once `source` reports `min` (or, without a source, at the next poll: the worker
 * re-checks inside its snapshot), false at `deadline` (a `performance.now()` time).
 */
export function waitForSequence(
  source: SequenceSource | undefined,
  min: bigint,
  deadline: number,
): Promise<boolean> {
  const reached = () => {
    const last = source?.lastSequence() ?? null;
    return last !== null && last >= min;
  };
  return new Promise((resolve) => {
    if (source !== undefined && reached()) return resolve(true);
    const remaining = deadline - performance.now();
    if (remaining <= 0) return resolve(false);
    let done = false;
    const finish = (value: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      unsubscribe();
      resolve(value);
    };
    const unsubscribe =
      source?.onApplied(() => {
        if (reached()) finish(true);
      }) ?? (() => {});
    // Without a source (or if an event is missed) poll: the worker re-checks in its snapshot.
    const poll = setInterval(() => finish(true), source === undefined ? 25 : 250);
    const timer = setTimeout(() => finish(false), remaining);
  });
}
