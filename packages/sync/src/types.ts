import type { ErrorKind, MessageType, MessageTypeName } from '@synddb/protocol';

/** Where the engine is in its life cycle. */
export type SyncState = 'starting' | 'syncing' | 'caught_up' | 'halted' | 'stopped';

/** Why the engine stopped advancing. It keeps retrying and resumes by itself when the cause is gone. */
export interface HaltReason {
  /**
   * Stable error code of the first SyndDBError on the failure's cause chain, e.g.
   * `BATCH_SIGNATURE_INVALID`, `CHANGESET_CONFLICT`, `SEQUENCE_GAP`; `INTERNAL` for other errors.
   */
  code: string;
  /** That error's kind, which decides the engine's rule (`HALT_RULES`); the metrics' `reason`. */
  kind: HaltKind;
  message: string;
  /** The sequence that could not be applied. */
  sequence: bigint;
  /** Unix ms when the halt began. */
  since: number;
  /** Retries attempted since the halt began. */
  retries: number;
}

/** The kind of the error that halted the engine: every `ErrorKind` of @synddb/protocol. */
export type HaltKind = ErrorKind;

export interface SyncStatus {
  state: SyncState;
  /** Last applied sequence, null for a fresh replica. */
  lastSequence: bigint | null;
  /** Sequencer timestamp (unix s) of the last applied message. */
  lastTimestamp: bigint | null;
  /** Unix ms of the last commit. */
  lastAppliedAt: number | null;
  nextSequence: bigint;
  /** Highest sequence known to exist in storage (from the batch index), null if storage is empty/unknown. */
  headSequence: bigint | null;
  /** headSequence - lastSequence (0 when caught up or unknown). */
  lagSequences: bigint;
  /** Seconds between now and the last applied message's timestamp while behind; 0 when caught up. */
  lagSeconds: number;
  halt: HaltReason | null;
  skippedGaps: { start: bigint; end: bigint; reason: string; detectedAt: number }[];
  messagesApplied: number;
}

/** One message applied to the replica (emitted after its transaction committed). */
export interface AppliedMessage {
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
  /** For changeset messages: the raw SQLite changesets, in order (for summaries / notifications). */
  changesets: Uint8Array[];
}

export interface SyncEvents {
  /** Messages committed (one event per commit; a commit can hold many messages when catching up). */
  applied: [messages: AppliedMessage[]];
  /** A snapshot replaced the replica. */
  snapshot: [info: { sequence: bigint; timestamp: bigint; bytes: number }];
  halted: [reason: HaltReason];
  /**
   * The halt is over: `sequence` was applied, or (for a storage or gap halt) storage answered
   * again with nothing to apply at `sequence`, the next one.
   */
  resumed: [info: { sequence: bigint; haltedFor: number; previous: HaltReason }];
  caughtUp: [info: { sequence: bigint | null }];
  gapSkipped: [gap: { start: bigint; end: bigint; reason: string }];
  /** Catch-up progress, at most every `progressIntervalMs`. */
  progress: [info: SyncProgress];
  /** Timings for metrics. */
  batchFetched: [info: { startSequence: bigint; bytes: number; seconds: number }];
  batchVerified: [info: { startSequence: bigint; messages: number; seconds: number }];
  /** `byType`: messages per type name (`MESSAGE_TYPE_NAMES` of @synddb/protocol). */
  messagesCommitted: [
    info: { count: number; seconds: number; byType: Partial<Record<MessageTypeName, number>> },
  ];
  signatureFailure: [info: { sequence: bigint; code: string }];
  /**
   * A step failed and will be retried after `delayMs` (every failure, before and after a halt is
   * reported): for logs and metrics. `attempt` counts consecutive failures; `retryAfterMs` is
   * the wait storage asked for, if it asked.
   */
  retrying: [info: SyncRetry];
  prefetchDepth: [depth: number];
  /**
   * The state root's UPDATE resolver worker failed (it did not start, stopped answering or
   * exited): the state root is kept on the applying thread from then on, correct but slower.
   */
  updateResolverFailed: [info: { message: string }];
  error: [error: Error];
}

export interface SyncProgress {
  applied: bigint | null;
  head: bigint | null;
  /** Messages per second over the last interval. */
  rate: number;
  /** Seconds until caught up at the current rate, null when unknown. */
  etaSeconds: number | null;
}

export interface SyncRetry {
  /** The sequence the engine is trying to reach. */
  sequence: bigint;
  /** Consecutive failed steps, this one included. */
  attempt: number;
  /** How long the engine waits before the next attempt. */
  delayMs: number;
  code: string;
  kind: HaltKind;
  message: string;
  /** Storage's Retry-After, ms, when it sent one (honoured up to `maxRetryAfterMs`). */
  retryAfterMs: number | undefined;
  /** Whether a halt is being reported (after `gapRetryCount` storage failures, or at once). */
  halted: boolean;
}
