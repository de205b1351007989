import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ValidatorStatusLike } from '../status/status-types';

/**
 * The reference's buckets for every `*_duration_seconds` histogram (docs/compatibility.md#metrics).
 */
export const DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

export const MESSAGE_TYPES = ['changeset', 'withdrawal', 'snapshot'] as const;

/** Buckets of `synddb_query_latency_seconds` (read queries are mostly sub-millisecond). */
export const QUERY_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Why the WebSocket server dropped a client (`synddb_ws_clients_dropped_total{reason}`). */
export const WS_DROP_REASONS = [
  'slow_consumer',
  'heartbeat_timeout',
  'max_clients',
  'too_many_errors',
  'shutdown',
] as const;

/** WebSocket channels (`synddb_ws_messages_sent_total{channel}`); `control` = acks and errors. */
export const WS_CHANNELS = ['sequences', 'rows', 'control'] as const;

export interface CreateValidatorMetricsOptions {
  /** Also register prom-client's default process/Node.js metrics. Default false. */
  defaultMetrics?: boolean;
}

/**
 * Every metric the validator exports. Names marked (ref) are the Rust validator's
 * (`synddb_validator_*`, `axum_http_*`), with its types and labels; unlike the reference, they are
 * recorded on every path (batch and single-message mode).
 */
export interface ValidatorMetrics {
  readonly registry: Registry;

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
  /** `synddb_withdrawals_processed_total` */
  readonly withdrawalsProcessed: Counter;
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

  /** `synddb_validator_withdrawals_signed_total`: bridge signer mode, signed after their commit. */
  readonly withdrawalsSigned: Counter;
  /** `synddb_validator_withdrawal_signing_errors_total`: failed attempts (the withdrawal stays queued). */
  readonly withdrawalSigningErrors: Counter;
  /** `synddb_validator_withdrawals_unsigned`: queued withdrawals the last signing round left unsigned. */
  readonly withdrawalsUnsigned: Gauge;

  /**
   * `synddb_query_latency_seconds{endpoint,outcome}`: one observation per read query (REST query
   * routes, JSON-RPC methods). `endpoint` is a bounded route/method name, `outcome` is `ok`,
   * `client_error`, `server_error` or `timeout`.
   */
  readonly queryLatency: Histogram<'endpoint' | 'outcome'>;

  /** `synddb_ws_clients`: connected WebSocket clients. */
  readonly wsClients: Gauge;
  /** `synddb_ws_connections_total`: WebSocket connections accepted (including ones closed at once for `max_clients`). */
  readonly wsConnections: Counter;
  /** `synddb_ws_messages_sent_total{channel}`: `sequences`, `rows`, `control`. */
  readonly wsMessagesSent: Counter<'channel'>;
  /** `synddb_ws_bytes_sent_total`: payload bytes queued to WebSocket clients. */
  readonly wsBytesSent: Counter;
  /** `synddb_ws_clients_dropped_total{reason}`: see `WS_DROP_REASONS`. */
  readonly wsClientsDropped: Counter<'reason'>;
  /** `synddb_ws_client_errors_total{code}`: malformed or invalid client messages, by error code. */
  readonly wsClientErrors: Counter<'code'>;
  /** `synddb_ws_decode_failures_total`: applied changesets the row stream could not decode. */
  readonly wsDecodeFailures: Counter;

  /** (ref) `axum_http_requests_total{method,endpoint,status}` */
  readonly httpRequests: Counter<'method' | 'endpoint' | 'status'>;
  /** (ref) `axum_http_requests_duration_seconds{method,endpoint,status}` */
  readonly httpRequestDuration: Histogram<'method' | 'endpoint' | 'status'>;
  /** (ref) `axum_http_requests_pending{method,endpoint}` */
  readonly httpRequestsPending: Gauge<'method' | 'endpoint'>;

  /** Sets the gauges derived from a status snapshot (called on every scrape and commit). */
  observeStatus(status: ValidatorStatusLike): void;
}

/** Creates the validator's metrics in `registry` (a fresh one by default). */
export function createValidatorMetrics(
  registry: Registry = new Registry(),
  options: CreateValidatorMetricsOptions = {},
): ValidatorMetrics {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Histogram<L>({ name, help, labelNames, buckets: [...DURATION_BUCKETS], registers });

  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });

  const metrics: ValidatorMetrics = {
    registry,
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
    withdrawalsProcessed: counter(
      'synddb_withdrawals_processed_total',
      'Withdrawal messages applied',
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

    withdrawalsSigned: counter(
      'synddb_validator_withdrawals_signed_total',
      'Withdrawals signed for the bridge (after their data committed)',
    ),
    withdrawalSigningErrors: counter(
      'synddb_validator_withdrawal_signing_errors_total',
      'Failed attempts to sign a queued withdrawal (it stays queued and is retried)',
    ),
    withdrawalsUnsigned: gauge(
      'synddb_validator_withdrawals_unsigned',
      'Withdrawals queued for signing that the last signing round left unsigned',
    ),

    queryLatency: new Histogram({
      name: 'synddb_query_latency_seconds',
      help: 'Duration of one read query, by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      buckets: [...QUERY_LATENCY_BUCKETS],
      registers,
    }),

    wsClients: gauge('synddb_ws_clients', 'Connected WebSocket clients'),
    wsConnections: counter('synddb_ws_connections_total', 'WebSocket connections accepted'),
    wsMessagesSent: counter(
      'synddb_ws_messages_sent_total',
      'WebSocket messages sent, by channel (control = acks and errors)',
      ['channel'],
    ),
    wsBytesSent: counter('synddb_ws_bytes_sent_total', 'WebSocket payload bytes sent'),
    wsClientsDropped: counter(
      'synddb_ws_clients_dropped_total',
      'WebSocket clients closed by the server, by reason',
      ['reason'],
    ),
    wsClientErrors: counter(
      'synddb_ws_client_errors_total',
      'Invalid WebSocket client messages, by error code',
      ['code'],
    ),
    wsDecodeFailures: counter(
      'synddb_ws_decode_failures_total',
      'Applied changesets the row stream could not decode',
    ),

    httpRequests: counter('axum_http_requests_total', 'HTTP requests', [
      'method',
      'endpoint',
      'status',
    ]),
    httpRequestDuration: new Histogram({
      name: 'axum_http_requests_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'endpoint', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    httpRequestsPending: gauge('axum_http_requests_pending', 'HTTP requests in flight', [
      'method',
      'endpoint',
    ]),

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

  // Series that dashboards expect to exist from the first scrape.
  for (const type of MESSAGE_TYPES) {
    metrics.messagesSynced.inc({ type }, 0);
    metrics.messagesApplied.inc({ type }, 0);
  }
  metrics.errors.inc({ type: 'signature_verification' }, 0);
  metrics.errors.inc({ type: 'sequence_mismatch' }, 0);
  for (const reason of WS_DROP_REASONS) metrics.wsClientsDropped.inc({ reason }, 0);
  for (const channel of WS_CHANNELS) metrics.wsMessagesSent.inc({ channel }, 0);
  metrics.pendingChangesets.set(0);
  metrics.lastSequence.set(-1);
  metrics.headSequence.set(-1);
  return metrics;
}
