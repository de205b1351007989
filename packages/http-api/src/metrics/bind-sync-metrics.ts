import type { HaltReasonLike, ValidatorStatusLike } from '../status/status-types';
import type { ValidatorMetrics } from './create-validator-metrics';

/** Message type numbers of the wire format: 0 changeset, 1 withdrawal, 2 snapshot. */
const TYPE_NAMES = ['changeset', 'withdrawal', 'snapshot'] as const;

/**
 * The events `bindSyncMetrics` listens to: structurally the `SyncEvents` of `@synddb/sync`, so a
 * `SyncEngine` can be passed as is.
 */
export interface SyncEventsLike {
  applied: [
    messages: readonly { sequence: bigint; messageType: number; changesets: readonly unknown[] }[],
  ];
  snapshot: [info: { sequence: bigint; bytes: number }];
  halted: [reason: HaltReasonLike];
  resumed: [info: { sequence: bigint; haltedFor: number }];
  retrying: [info: { code: string; kind: string }];
  gapSkipped: [gap: { start: bigint; end: bigint; reason: string }];
  batchFetched: [info: { startSequence: bigint; bytes: number; seconds: number }];
  batchVerified: [info: { startSequence: bigint; messages: number; seconds: number }];
  messagesCommitted: [info: { count: number; seconds: number; byType: Record<string, number> }];
  signatureFailure: [info: { sequence: bigint; code: string }];
  prefetchDepth: [depth: number];
  error: [error: Error];
}

type Listener<K extends keyof SyncEventsLike> = (...args: SyncEventsLike[K]) => void;

/**
 * An emitter of `SyncEventsLike` events, e.g. a `SyncEngine`. The listener parameter is loose so
 * that Node's generic `EventEmitter<T>.on` signature is assignable; payloads are as declared in
 * `SyncEventsLike`.
 */
export interface SyncEventSource {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  on(event: keyof SyncEventsLike, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  off(event: keyof SyncEventsLike, listener: (...args: any[]) => void): unknown;
  /** When present, the status-derived gauges are refreshed after every commit. */
  status?: () => ValidatorStatusLike;
}

/**
 * Records every sync engine event into `metrics` (batch and single-message mode alike). Returns a
 * function that removes the listeners.
 */
export function bindSyncMetrics(engine: SyncEventSource, metrics: ValidatorMetrics): () => void {
  // A gap that halts and is later skipped is one gap, not two.
  let lastGapStart: bigint | null = null;
  const countGap = (start: bigint) => {
    if (lastGapStart === start) return;
    lastGapStart = start;
    metrics.gapsDetected.inc();
  };
  const refresh = () => {
    if (engine.status !== undefined) metrics.observeStatus(engine.status());
  };

  const listeners: { [K in keyof SyncEventsLike]: Listener<K> } = {
    applied: (messages) => {
      for (const m of messages) {
        const type = TYPE_NAMES[m.messageType] ?? 'unknown';
        metrics.messagesApplied.inc({ type });
        metrics.messagesSynced.inc({ type });
        if (type === 'changeset') metrics.changesetsApplied.inc(m.changesets.length);
        if (type === 'withdrawal') {
          metrics.withdrawalsProcessed.inc();
          metrics.validatorWithdrawalsProcessed.inc();
        }
      }
      const last = messages[messages.length - 1];
      if (last !== undefined) metrics.lastSequence.set(Number(last.sequence));
      refresh();
    },
    snapshot: () => {
      metrics.snapshotsApplied.inc();
    },
    halted: (reason) => {
      metrics.halts.inc({ reason: reason.kind, code: reason.code });
      metrics.halted.set(1);
      metrics.syncing.set(0);
      if (reason.kind === 'gap') countGap(reason.sequence);
      if (reason.code === 'UNEXPECTED_SEQUENCE') metrics.errors.inc({ type: 'sequence_mismatch' });
    },
    retrying: (info) => {
      metrics.retries.inc({ reason: info.kind, code: info.code });
    },
    resumed: () => {
      metrics.resumes.inc();
      metrics.halted.set(0);
      metrics.syncing.set(1);
    },
    gapSkipped: (gap) => {
      countGap(gap.start);
      metrics.gapsSkipped.inc();
    },
    batchFetched: (info) => {
      metrics.fetchDuration.observe(info.seconds);
      metrics.batchFetchDuration.observe(info.seconds);
      metrics.batchFetchSeconds.observe(info.seconds);
      metrics.batchFetchedBytes.inc(info.bytes);
    },
    batchVerified: (info) => {
      metrics.verifyDuration.observe(info.seconds);
      metrics.batchVerifySeconds.observe(info.seconds);
      metrics.batchesSynced.inc();
    },
    messagesCommitted: (info) => {
      const types = Object.keys(info.byType);
      const type = types.length === 1 ? types[0]! : 'mixed';
      metrics.applyDuration.observe({ type }, info.seconds);
      metrics.syncDuration.observe(info.seconds);
      metrics.commitSeconds.observe(info.seconds);
    },
    signatureFailure: (info) => {
      metrics.signatureVerificationFailures.inc({ code: info.code });
      metrics.errors.inc({ type: 'signature_verification' });
    },
    prefetchDepth: (depth) => {
      metrics.prefetchDepth.set(depth);
    },
    error: () => {
      metrics.syncErrors.inc();
    },
  };

  const keys = Object.keys(listeners) as (keyof SyncEventsLike)[];
  for (const key of keys) engine.on(key, listeners[key]);
  return () => {
    for (const key of keys) engine.off(key, listeners[key]);
  };
}
