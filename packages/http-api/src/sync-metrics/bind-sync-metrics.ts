import { MESSAGE_TYPE_NAMES } from '@synddb/protocol';
import type { SyncEvents, SyncStatus } from '@synddb/sync';
import type { SyncMetrics } from './sync-metrics';

/** The engine events `bindSyncMetrics` records. */
const RECORDED = [
  'applied',
  'snapshot',
  'halted',
  'resumed',
  'retrying',
  'gapSkipped',
  'batchFetched',
  'batchVerified',
  'messagesCommitted',
  'signatureFailure',
  'prefetchDepth',
  'error',
] as const satisfies readonly (keyof SyncEvents)[];

type RecordedEvent = (typeof RECORDED)[number];
type Listener<K extends RecordedEvent> = (...args: SyncEvents[K]) => void;

/**
 * What `bindSyncMetrics` listens to: a `SyncEngine` of `@synddb/sync` (or any emitter of its
 * `SyncEvents`). The listener parameter is loose so that Node's generic `EventEmitter<T>.on`
 * signature is assignable; payloads are as declared in `SyncEvents`.
 */
export interface SyncEventSource {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  on(event: RecordedEvent, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  off(event: RecordedEvent, listener: (...args: any[]) => void): unknown;
  /** When present, the status-derived gauges are refreshed after every commit. */
  status?: () => SyncStatus;
}

/**
 * Records every sync engine event into `metrics` (batch and single-message mode alike). Returns a
 * function that removes the listeners.
 */
export function bindSyncMetrics(engine: SyncEventSource, metrics: SyncMetrics): () => void {
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

  const listeners: { [K in RecordedEvent]: Listener<K> } = {
    applied: (messages) => {
      for (const m of messages) {
        const type = MESSAGE_TYPE_NAMES[m.messageType] ?? 'unknown';
        metrics.messagesApplied.inc({ type });
        metrics.messagesSynced.inc({ type });
        if (type === 'changeset') metrics.changesetsApplied.inc(m.changesets.length);
        if (type === 'withdrawal') metrics.validatorWithdrawalsProcessed.inc();
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

  for (const key of RECORDED) engine.on(key, listeners[key]);
  return () => {
    for (const key of RECORDED) engine.off(key, listeners[key]);
  };
}
