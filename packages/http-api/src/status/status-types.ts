/**
 * The status shape the API serves. It is structurally the `SyncStatus` of `@synddb/sync` (any
 * object with these fields works), so this package does not depend on the sync engine.
 */
export type SyncStateLike = 'starting' | 'syncing' | 'caught_up' | 'halted' | 'stopped';

export interface HaltReasonLike {
  code: string;
  kind: string;
  message: string;
  sequence: bigint;
  /** Unix ms when the halt began. */
  since: number;
  retries: number;
}

export interface SkippedGapLike {
  start: bigint;
  end: bigint;
  reason: string;
  /** Unix ms. */
  detectedAt: number;
}

export interface ValidatorStatusLike {
  state: SyncStateLike;
  lastSequence: bigint | null;
  /** Sequencer timestamp (unix s) of the last applied message. */
  lastTimestamp: bigint | null;
  /** Unix ms of the last commit. */
  lastAppliedAt: number | null;
  nextSequence: bigint;
  headSequence: bigint | null;
  lagSequences: bigint;
  lagSeconds: number;
  halt: HaltReasonLike | null;
  skippedGaps: readonly SkippedGapLike[];
  messagesApplied: number;
}

/** A status provider: called on every `/status`, `/ready`, `/health` and `/metrics` request. */
export type StatusProvider = () => ValidatorStatusLike;
