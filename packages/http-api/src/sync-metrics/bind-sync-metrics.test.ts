import { EventEmitter } from 'node:events';
import type { HaltReason, SyncEvents, SyncRetry, SyncStatus } from '@synddb/sync';
import { describe, expect, it } from 'vitest';
import { createValidatorMetrics, type ValidatorMetrics } from '../metrics/create-validator-metrics';
import { bindSyncMetrics } from './bind-sync-metrics';

async function value(metrics: ValidatorMetrics, name: string, labels: Record<string, string> = {}) {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const isHistogram = String(data.type) === 'histogram';
  const hit = data.values.find((v) => {
    const metricName = (v as { metricName?: string }).metricName;
    if (isHistogram && metricName !== `${name}_count`) return false;
    return Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want);
  });
  return hit?.value;
}

class FakeEngine extends EventEmitter<SyncEvents> {
  current: SyncStatus = {
    state: 'syncing',
    lastSequence: null,
    lastTimestamp: null,
    lastAppliedAt: null,
    nextSequence: 0n,
    headSequence: 20n,
    lagSequences: 21n,
    lagSeconds: 7,
    halt: null,
    skippedGaps: [],
    messagesApplied: 0,
  };
  status = () => this.current;
}

describe('bindSyncMetrics', () => {
  it('records every engine event', async () => {
    const engine = new FakeEngine();
    const metrics = createValidatorMetrics();
    const unbind = bindSyncMetrics(engine, metrics);

    engine.emit('batchFetched', { startSequence: 0n, bytes: 1234, seconds: 0.02 });
    engine.emit('batchVerified', { startSequence: 0n, messages: 3, seconds: 0.01 });
    engine.emit('prefetchDepth', 3);
    engine.current = { ...engine.current, lastSequence: 2n, nextSequence: 3n, lagSequences: 18n };
    engine.emit('applied', [
      { sequence: 0n, timestamp: 1n, messageType: 2, changesets: [] },
      {
        sequence: 1n,
        timestamp: 1n,
        messageType: 0,
        changesets: [new Uint8Array(1), new Uint8Array(2)],
      },
      { sequence: 2n, timestamp: 1n, messageType: 1, changesets: [] },
    ]);
    engine.emit('snapshot', { sequence: 0n, timestamp: 1n, bytes: 4096 });
    engine.emit('messagesCommitted', {
      count: 3,
      seconds: 0.004,
      byType: { snapshot: 1, changeset: 1, withdrawal: 1 },
    });
    engine.emit('messagesCommitted', { count: 1, seconds: 0.002, byType: { changeset: 1 } });
    engine.emit('signatureFailure', { sequence: 3n, code: 'MESSAGE_SIGNATURE' });
    const gapHalt: HaltReason = {
      code: 'SEQUENCE_GAP',
      kind: 'gap',
      message: 'gap',
      sequence: 3n,
      since: 0,
      retries: 0,
    };
    const retry: SyncRetry = {
      sequence: 3n,
      attempt: 1,
      delayMs: 10,
      code: 'STORAGE_UNAVAILABLE',
      kind: 'storage',
      message: 'unavailable',
      retryAfterMs: undefined,
      halted: false,
    };
    engine.emit('retrying', retry);
    engine.emit('retrying', { ...retry, attempt: 2 });
    expect(
      await value(metrics, 'synddb_sync_retries_total', {
        reason: 'storage',
        code: 'STORAGE_UNAVAILABLE',
      }),
    ).toBe(2);
    engine.emit('halted', gapHalt);
    expect(await value(metrics, 'synddb_sync_halted')).toBe(1);
    engine.emit('gapSkipped', { start: 3n, end: 5n, reason: 'skip' });
    engine.emit('resumed', { sequence: 5n, haltedFor: 10, previous: gapHalt });
    engine.emit('halted', {
      ...gapHalt,
      code: 'UNEXPECTED_SEQUENCE',
      kind: 'decode',
      sequence: 9n,
    });
    engine.emit('error', new Error('bug'));

    expect(await value(metrics, 'synddb_messages_applied_total', { type: 'changeset' })).toBe(1);
    expect(await value(metrics, 'synddb_messages_applied_total', { type: 'snapshot' })).toBe(1);
    expect(
      await value(metrics, 'synddb_validator_messages_synced_total', { type: 'withdrawal' }),
    ).toBe(1);
    expect(await value(metrics, 'synddb_changesets_applied_total')).toBe(2);
    expect(await value(metrics, 'synddb_snapshots_applied_total')).toBe(1);
    // synddb_withdrawals_processed_total counts completions on the Bridge (bridge signer mode)
    expect(await value(metrics, 'synddb_withdrawals_processed_total')).toBe(0);
    expect(await value(metrics, 'synddb_validator_withdrawals_processed_total')).toBe(1);
    expect(await value(metrics, 'synddb_validator_last_sequence')).toBe(2);
    expect(await value(metrics, 'synddb_sync_lag_sequences')).toBe(18);
    expect(await value(metrics, 'synddb_validator_sync_lag_seconds')).toBe(7);
    expect(await value(metrics, 'synddb_batch_fetched_bytes_total')).toBe(1234);
    expect(await value(metrics, 'synddb_validator_fetch_duration_seconds')).toBe(1);
    expect(await value(metrics, 'synddb_validator_batch_fetch_duration_seconds')).toBe(1);
    expect(await value(metrics, 'synddb_batch_fetch_duration_seconds')).toBe(1);
    expect(await value(metrics, 'synddb_validator_verify_duration_seconds')).toBe(1);
    expect(await value(metrics, 'synddb_batch_verify_duration_seconds')).toBe(1);
    expect(await value(metrics, 'synddb_validator_batches_synced_total')).toBe(1);
    expect(await value(metrics, 'synddb_prefetch_depth')).toBe(3);
    expect(await value(metrics, 'synddb_validator_apply_duration_seconds', { type: 'mixed' })).toBe(
      1,
    );
    expect(
      await value(metrics, 'synddb_validator_apply_duration_seconds', { type: 'changeset' }),
    ).toBe(1);
    expect(await value(metrics, 'synddb_validator_sync_duration_seconds')).toBe(2);
    expect(await value(metrics, 'synddb_apply_duration_seconds')).toBe(2);
    expect(
      await value(metrics, 'synddb_signature_verification_failures_total', {
        code: 'MESSAGE_SIGNATURE',
      }),
    ).toBe(1);
    expect(
      await value(metrics, 'synddb_validator_errors_total', { type: 'signature_verification' }),
    ).toBe(1);
    expect(
      await value(metrics, 'synddb_validator_errors_total', { type: 'sequence_mismatch' }),
    ).toBe(1);
    expect(
      await value(metrics, 'synddb_sync_halts_total', { reason: 'gap', code: 'SEQUENCE_GAP' }),
    ).toBe(1);
    expect(await value(metrics, 'synddb_validator_gaps_detected_total')).toBe(1);
    expect(await value(metrics, 'synddb_gaps_skipped_total')).toBe(1);
    expect(await value(metrics, 'synddb_sync_resumes_total')).toBe(1);
    expect(await value(metrics, 'synddb_sync_errors_total')).toBe(1);
    expect(await value(metrics, 'synddb_sync_halted')).toBe(1);

    unbind();
    expect(engine.listenerCount('applied')).toBe(0);
    engine.emit('snapshot', { sequence: 9n, timestamp: 1n, bytes: 1 });
    expect(await value(metrics, 'synddb_snapshots_applied_total')).toBe(1);
  });
});
