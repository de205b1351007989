import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS } from '../sync-metrics/sync-metrics';
import { createValidatorMetrics } from './create-validator-metrics';

/** docs/compatibility.md#metrics and the plan's names: name → [type, labels]. */
const EXPECTED: Record<string, [string, string[]]> = {
  synddb_validator_messages_synced_total: ['counter', ['type']],
  synddb_validator_last_sequence: ['gauge', []],
  synddb_validator_sync_lag_seconds: ['gauge', []],
  synddb_validator_gaps_detected_total: ['counter', []],
  synddb_validator_withdrawals_processed_total: ['counter', []],
  synddb_validator_errors_total: ['counter', ['type']],
  synddb_validator_apply_duration_seconds: ['histogram', ['type']],
  synddb_validator_verify_duration_seconds: ['histogram', []],
  synddb_validator_fetch_duration_seconds: ['histogram', []],
  synddb_validator_sync_duration_seconds: ['histogram', []],
  synddb_validator_pending_changesets: ['gauge', []],
  synddb_validator_batch_fetch_duration_seconds: ['histogram', []],
  synddb_validator_batches_synced_total: ['counter', []],
  synddb_validator_syncing: ['gauge', []],
  axum_http_requests_total: ['counter', ['method', 'endpoint', 'status']],
  axum_http_requests_duration_seconds: ['histogram', ['method', 'endpoint', 'status']],
  axum_http_requests_pending: ['gauge', ['method', 'endpoint']],
  synddb_sync_lag_sequences: ['gauge', []],
  synddb_messages_applied_total: ['counter', ['type']],
  synddb_changesets_applied_total: ['counter', []],
  synddb_snapshots_applied_total: ['counter', []],
  synddb_signature_verification_failures_total: ['counter', ['code']],
  synddb_query_latency_seconds: ['histogram', ['endpoint', 'outcome']],
  synddb_query_point_reads_total: ['counter', []],
  synddb_withdrawals_processed_total: ['counter', []],
  synddb_sync_halts_total: ['counter', ['reason', 'code']],
  synddb_prefetch_depth: ['gauge', []],
  synddb_validator_withdrawals_signed_total: ['counter', []],
  synddb_validator_withdrawal_signing_errors_total: ['counter', []],
  synddb_validator_withdrawals_unsigned: ['gauge', []],
  synddb_validator_state_attestations_signed_total: ['counter', []],
  synddb_validator_state_attestation_signing_errors_total: ['counter', []],
  synddb_validator_state_attestations_unsigned: ['gauge', []],
  synddb_validator_state_attestation_sequence: ['gauge', []],
  synddb_ws_clients: ['gauge', []],
  synddb_ws_messages_sent_total: ['counter', ['channel']],
  synddb_ws_clients_dropped_total: ['counter', ['reason']],
};

describe('createValidatorMetrics', () => {
  it('registers the reference metrics and the additions with their types and labels', async () => {
    const metrics = createValidatorMetrics();
    for (const [name, [type, labels]] of Object.entries(EXPECTED)) {
      const metric = metrics.registry.getSingleMetric(name);
      expect(metric, name).toBeDefined();
      const data = await metric!.get();
      expect(String(data.type), name).toBe(type);
      const declared = (metric as unknown as { labelNames: string[] }).labelNames;
      expect([...declared].sort(), name).toEqual([...labels].sort());
    }
    const text = await metrics.registry.metrics();
    // the reference's buckets on every *_duration_seconds histogram of its own
    const le = [...text.matchAll(/synddb_validator_verify_duration_seconds_bucket\{le="([^"]+)"/g)]
      .map((m) => m[1])
      .filter((v) => v !== '+Inf')
      .map(Number);
    expect(le).toEqual([...DURATION_BUCKETS]);
  });

  it('records query latency and WebSocket metrics', async () => {
    const metrics = createValidatorMetrics();
    metrics.queryLatency.observe({ endpoint: 'rows', outcome: 'ok' }, 0.0004);
    const end = metrics.queryLatency.startTimer({ endpoint: 'sql', outcome: 'client_error' });
    end();
    metrics.wsClients.set(3);
    metrics.wsMessagesSent.inc({ channel: 'rows' }, 5);
    metrics.wsClientsDropped.inc({ reason: 'slow_consumer' });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'synddb_query_latency_seconds_bucket{le="0.0005",endpoint="rows",outcome="ok"} 1',
    );
    expect(text).toContain(
      'synddb_query_latency_seconds_count{endpoint="sql",outcome="client_error"} 1',
    );
    expect(text).toContain('synddb_ws_clients 3');
    expect(text).toContain('synddb_ws_messages_sent_total{channel="rows"} 5');
    expect(text).toContain('synddb_ws_messages_sent_total{channel="sequences"} 0');
    expect(text).toContain('synddb_ws_clients_dropped_total{reason="slow_consumer"} 1');
    expect(text).toContain('synddb_ws_clients_dropped_total{reason="heartbeat_timeout"} 0');
  });
});
