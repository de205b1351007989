import { MESSAGE_TYPE_NAMES } from '@synddb/protocol';
import type { SyncStatus } from '@synddb/sync';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The reference's buckets for every `*_duration_seconds` histogram (docs/compatibility.md#metrics).
 */
export const DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

/** The `type` label values (`MESSAGE_TYPE_NAMES` of `@synddb/protocol`). */
export const MESSAGE_TYPES = MESSAGE_TYPE_NAMES;

/**
 * The sync pipeline's metrics, recorded from the engine's events by `bindSyncMetrics` and from
 * its status by `observeStatus`. Names marked (ref) are the Rust validator's
 * (`synddb_validator_*`), with its types and labels; unlike the reference, they are recorded on
 * every path (batch and single-message mode).
 */
export interface SyncMetrics {
  /** (ref) `synddb_validator_messages_synced_total{type}` */
  readonly messagesSynced: Counter<'type'>;
  /** (ref) `synddb_validator_last_sequence` */
  readonly lastSequence: Gauge;
  /** (ref) `synddb_validator_sync_lag_seconds`: now minus the last applied message's timestamp while behind. */
  readonly syncLagSeconds: Gauge;
  /** (ref) `synddb_validator_gaps_detected_total` */
  readonly gapsDetected: Counter;
  /** (ref) `synddb_validator_withdrawals_processed_total` */
  readonly validatorWithdrawalsProcessed: Counter;
  /** (ref) `synddb_validator_errors_total{type}`: `signature_verification` | `sequence_mismatch`. */
  readonly errors: Counter<'type'>;
  /** (ref) `synddb_validator_apply_duration_seconds{type}`: one observation per commit. */
  readonly applyDuration: Histogram<'type'>;
  /** (ref) `synddb_validator_verify_duration_seconds`: one observation per batch. */
  readonly verifyDuration: Histogram;
  /** (ref) `synddb_validator_fetch_duration_seconds`: one observation per batch download. */
  readonly fetchDuration: Histogram;
  /** (ref) `synddb_validator_sync_duration_seconds`: one observation per commit. */
  readonly syncDuration: Histogram;
  /** (ref) `synddb_validator_pending_changesets`: always 0 (schema mismatches halt; nothing is deferred). */
  readonly pendingChangesets: Gauge;
  /** (ref) `synddb_validator_batch_fetch_duration_seconds` */
  readonly batchFetchDuration: Histogram;
  /** (ref) `synddb_validator_batches_synced_total`: batches fetched and verified. */
  readonly batchesSynced: Counter;
  /** (ref) `synddb_validator_syncing`: 1 while the loop runs and is not halted. */
  readonly syncing: Gauge;

  /** `synddb_sync_lag_sequences` */
  readonly syncLagSequences: Gauge;
  /** `synddb_sync_head_sequence`: highest sequence listed in storage (-1 when unknown). */
  readonly headSequence: Gauge;
  /** `synddb_sync_halted`: 1 while halted. */
  readonly halted: Gauge;
  /** `synddb_sync_halts_total{reason,code}`: reason is the halt kind. */
  readonly halts: Counter<'reason' | 'code'>;
  /** `synddb_sync_resumes_total` */
  readonly resumes: Counter;
  /**
   * `synddb_sync_retries_total{reason,code}`: failed sync steps retried with backoff (storage
   * faults, gaps, ...), before and after a halt is reported; reason is the failure kind.
   */
  readonly retries: Counter<'reason' | 'code'>;
  /** `synddb_sync_errors_total`: unexpected engine errors (bugs). */
  readonly syncErrors: Counter;
  /** `synddb_messages_applied_total{type}` */
  readonly messagesApplied: Counter<'type'>;
  /** `synddb_changesets_applied_total`: SQLite changesets inside applied changeset messages. */
  readonly changesetsApplied: Counter;
  /** `synddb_snapshots_applied_total` */
  readonly snapshotsApplied: Counter;
  /** `synddb_signature_verification_failures_total{code}` */
  readonly signatureVerificationFailures: Counter<'code'>;
  /** `synddb_gaps_skipped_total` */
  readonly gapsSkipped: Counter;
  /** `synddb_batch_fetch_duration_seconds` */
  readonly batchFetchSeconds: Histogram;
  /** `synddb_batch_fetched_bytes_total`: compressed bytes downloaded. */
  readonly batchFetchedBytes: Counter;
  /** `synddb_batch_verify_duration_seconds` */
  readonly batchVerifySeconds: Histogram;
  /** `synddb_apply_duration_seconds`: one commit (apply + cursor), up to `maxMessagesPerTransaction` messages. */
  readonly commitSeconds: Histogram;
  /** `synddb_prefetch_depth`: verified batches waiting to be applied. */
  readonly prefetchDepth: Gauge;

  /** Sets the gauges derived from a status snapshot (called on every scrape and commit). */
  observeStatus(status: SyncStatus): void;
}

/** Creates the sync metrics in `registry`, with the series dashboards expect from the first scrape. */
export function createSyncMetrics(registry: Registry): SyncMetrics {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Histogram<L>({ name, help, labelNames, buckets: [...DURATION_BUCKETS], registers });

  const metrics: SyncMetrics = {
    messagesSynced: counter('synddb_validator_messages_synced_total', 'Messages applied, by type', [
      'type',
    ]),
    lastSequence: gauge('synddb_validator_last_sequence', 'Last applied sequence (-1 when none)'),
    syncLagSeconds: gauge(
      'synddb_validator_sync_lag_seconds',
      'Seconds between now and the last applied message timestamp while behind (0 when caught up)',
    ),
    gapsDetected: counter('synddb_validator_gaps_detected_total', 'Sequence gaps detected'),
    validatorWithdrawalsProcessed: counter(
      'synddb_validator_withdrawals_processed_total',
      'Withdrawal messages applied',
    ),
    errors: counter('synddb_validator_errors_total', 'Sync errors, by type', ['type']),
    applyDuration: histogram(
      'synddb_validator_apply_duration_seconds',
      'Duration of one commit, by message type (mixed when a commit holds several types)',
      ['type'],
    ),
    verifyDuration: histogram(
      'synddb_validator_verify_duration_seconds',
      'Duration of the signature verification of one batch',
    ),
    fetchDuration: histogram(
      'synddb_validator_fetch_duration_seconds',
      'Duration of one batch download',
    ),
    syncDuration: histogram(
      'synddb_validator_sync_duration_seconds',
      'Duration of one commit (apply and record progress)',
    ),
    pendingChangesets: gauge(
      'synddb_validator_pending_changesets',
      'Deferred changesets (always 0: a schema mismatch halts instead of deferring)',
    ),
    batchFetchDuration: histogram(
      'synddb_validator_batch_fetch_duration_seconds',
      'Duration of one batch download',
    ),
    batchesSynced: counter(
      'synddb_validator_batches_synced_total',
      'Batches downloaded and verified',
    ),
    syncing: gauge('synddb_validator_syncing', '1 while the sync loop runs and is not halted'),

    syncLagSequences: gauge(
      'synddb_sync_lag_sequences',
      'Sequences between the last applied one and the storage head',
    ),
    headSequence: gauge(
      'synddb_sync_head_sequence',
      'Highest sequence listed in storage (-1 when unknown)',
    ),
    halted: gauge('synddb_sync_halted', '1 while the sync loop is halted'),
    halts: counter('synddb_sync_halts_total', 'Halts, by reason (kind) and error code', [
      'reason',
      'code',
    ]),
    resumes: counter('synddb_sync_resumes_total', 'Halts that resolved by themselves'),
    retries: counter(
      'synddb_sync_retries_total',
      'Failed sync steps retried with backoff, by reason (kind) and error code',
      ['reason', 'code'],
    ),
    syncErrors: counter('synddb_sync_errors_total', 'Unexpected sync engine errors'),
    messagesApplied: counter('synddb_messages_applied_total', 'Messages applied, by type', [
      'type',
    ]),
    changesetsApplied: counter(
      'synddb_changesets_applied_total',
      'SQLite changesets applied (a changeset message holds one or more)',
    ),
    snapshotsApplied: counter('synddb_snapshots_applied_total', 'Snapshots swapped in'),
    signatureVerificationFailures: counter(
      'synddb_signature_verification_failures_total',
      'Signature verification failures, by error code',
      ['code'],
    ),
    gapsSkipped: counter('synddb_gaps_skipped_total', 'Sequence gaps skipped by operator choice'),
    batchFetchSeconds: histogram(
      'synddb_batch_fetch_duration_seconds',
      'Duration of one batch download',
    ),
    batchFetchedBytes: counter(
      'synddb_batch_fetched_bytes_total',
      'Compressed batch bytes downloaded',
    ),
    batchVerifySeconds: histogram(
      'synddb_batch_verify_duration_seconds',
      'Duration of decoding and verifying one batch',
    ),
    commitSeconds: histogram(
      'synddb_apply_duration_seconds',
      'Duration of one commit (apply and record progress)',
    ),
    prefetchDepth: gauge('synddb_prefetch_depth', 'Batches fetched ahead of the one being applied'),

    observeStatus(status) {
      metrics.lastSequence.set(status.lastSequence === null ? -1 : Number(status.lastSequence));
      metrics.headSequence.set(status.headSequence === null ? -1 : Number(status.headSequence));
      metrics.syncLagSequences.set(Number(status.lagSequences));
      metrics.syncLagSeconds.set(status.lagSeconds);
      const halted = status.state === 'halted' || status.halt !== null;
      metrics.halted.set(halted ? 1 : 0);
      metrics.syncing.set(!halted && status.state !== 'stopped' ? 1 : 0);
    },
  };

  for (const type of MESSAGE_TYPES) {
    metrics.messagesSynced.inc({ type }, 0);
    metrics.messagesApplied.inc({ type }, 0);
  }
  metrics.errors.inc({ type: 'signature_verification' }, 0);
  metrics.errors.inc({ type: 'sequence_mismatch' }, 0);
  metrics.pendingChangesets.set(0);
  metrics.lastSequence.set(-1);
  metrics.headSequence.set(-1);
  return metrics;
}
