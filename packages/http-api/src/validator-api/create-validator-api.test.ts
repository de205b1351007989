import type { SyncStatus } from '@synddb/sync';
import { onCleanup } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { testSyncStatus } from '../../test/sync-status';
import { createValidatorMetrics } from '../metrics/create-validator-metrics';
import { serveValidatorApi } from '../serve/serve-validator-api';
import { createValidatorApi } from './create-validator-api';

/** A status source that a test drives by assigning fields, as the sync engine would. */
class StatusBoard {
  current: SyncStatus = testSyncStatus();
  readonly provider = () => this.current;
  set(patch: Partial<SyncStatus>) {
    this.current = { ...this.current, ...patch };
  }
}

async function start(options: { maxLag?: number; syncedOnce?: () => boolean } = {}) {
  const board = new StatusBoard();
  const metrics = createValidatorMetrics();
  const responses: { path: string; status: number; requestId: string }[] = [];
  const app = createValidatorApi({
    status: board.provider,
    metrics,
    maxLag: options.maxLag,
    syncedOnce: options.syncedOnce,
    onResponse: (r) => responses.push(r),
  });
  const served = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  onCleanup(() => served.close());
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${served.url}${path}`, init);
    const text = await res.text();
    return { res, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  return { board, metrics, served, get, responses };
}

describe('createValidatorApi on a real server', () => {
  it('serves /health and /healthz with the reference shape', async () => {
    const { board, get } = await start();
    board.set({ state: 'syncing' });
    for (const path of ['/health', '/healthz']) {
      const { res, json } = await get(path);
      expect(res.status).toBe(200);
      expect(json()).toEqual({ status: 'healthy', running: true });
    }
    board.set({
      state: 'halted',
      halt: { code: 'X', kind: 'conflict', message: 'm', sequence: 3n, since: 1, retries: 0 },
    });
    const halted = await get('/health');
    expect(halted.res.status).toBe(200);
    expect(halted.json()).toEqual({ status: 'healthy', running: false });
  });

  it('is not ready until caught up once, then ready while within max lag', async () => {
    const { board, get } = await start({ maxLag: 10 });
    board.set({ state: 'syncing', headSequence: 100n, lagSequences: 100n, lastSequence: null });
    let r = await get('/ready');
    expect(r.res.status).toBe(503);
    expect(r.json()).toMatchObject({ status: 'not_ready', running: true });
    expect((r.json().reasons as string[]).join()).toMatch(/not caught up/);

    board.set({ state: 'caught_up', lastSequence: 100n, lagSequences: 0n, nextSequence: 101n });
    r = await get('/ready');
    expect(r.res.status).toBe(200);
    expect(r.json()).toEqual({ status: 'ready', running: true, reasons: [] });

    // Behind again but within max lag: still ready (synced once is sticky).
    board.set({ state: 'syncing', headSequence: 110n, lagSequences: 10n });
    expect((await get('/ready')).res.status).toBe(200);

    board.set({ headSequence: 111n, lagSequences: 11n });
    r = await get('/ready');
    expect(r.res.status).toBe(503);
    expect(r.json().reasons).toEqual(['lag 11 sequences exceeds max lag 10']);
  });

  it('is not ready while halted and says why', async () => {
    const { board, get } = await start({ syncedOnce: () => true });
    board.set({
      state: 'halted',
      lastSequence: 6n,
      nextSequence: 7n,
      halt: {
        code: 'CHANGESET_CONFLICT',
        kind: 'conflict',
        message: 'row changed',
        sequence: 7n,
        since: 1_700_000_000_000,
        retries: 2,
      },
    });
    const r = await get('/ready');
    expect(r.res.status).toBe(503);
    expect(r.json()).toEqual({
      status: 'not_ready',
      running: false,
      reasons: ['halted at sequence 7: CHANGESET_CONFLICT (row changed)'],
    });
    const s = (await get('/status')).json();
    expect(s).toMatchObject({
      running: false,
      state: 'halted',
      ready: false,
      halt: {
        code: 'CHANGESET_CONFLICT',
        kind: 'conflict',
        message: 'row changed',
        sequence: 7,
        since_ms: 1_700_000_000_000,
        retries: 2,
      },
    });
  });

  it('serves /status with the reference fields and the additions', async () => {
    const { board, get } = await start();
    const r0 = await get('/status');
    expect(r0.json()).toMatchObject({
      running: true,
      last_sequence: null,
      last_sync_time: 0,
      next_sequence: 0,
      state: 'starting',
      head_sequence: null,
      synced_once: false,
    });
    board.set({
      state: 'caught_up',
      lastSequence: 41n,
      lastTimestamp: 1_700_000_041n,
      lastAppliedAt: 1_700_000_042_500,
      nextSequence: 42n,
      headSequence: 41n,
      messagesApplied: 42,
      skippedGaps: [{ start: 10n, end: 12n, reason: 'skipped', detectedAt: 5 }],
    });
    const { res, json } = await get('/status');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(json()).toEqual({
      running: true,
      last_sequence: 41,
      last_sync_time: 1_700_000_042,
      next_sequence: 42,
      state: 'caught_up',
      head_sequence: 41,
      lag_sequences: 0,
      lag_seconds: 0,
      last_timestamp: 1_700_000_041,
      messages_applied: 42,
      synced_once: true,
      ready: true,
      halt: null,
      skipped_gaps: [{ start: 10, end: 12, reason: 'skipped', detected_at_ms: 5 }],
    });
  });

  it('writes sequences beyond 2^53-1 as decimal strings', async () => {
    const { board, get } = await start();
    const big = 2n ** 63n;
    board.set({
      state: 'syncing',
      lastSequence: big,
      nextSequence: big + 1n,
      headSequence: 2n ** 53n - 1n,
    });
    const s = (await get('/status')).json();
    expect(s.last_sequence).toBe('9223372036854775808');
    expect(s.next_sequence).toBe('9223372036854775809');
    expect(s.head_sequence).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('echoes a well-formed x-request-id and generates one otherwise', async () => {
    const { get, responses } = await start();
    const echoed = await get('/health', { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.res.headers.get('x-request-id')).toBe('abc-123');
    const generated = await get('/status');
    expect(generated.res.headers.get('x-request-id')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const hostile = await get('/metrics', { headers: { 'x-request-id': 'a b\tc<script>' } });
    expect(hostile.res.headers.get('x-request-id')).not.toContain('<');
    expect(hostile.res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await get('/nope', { headers: { 'x-request-id': 'x'.repeat(129) } });
    expect(missing.res.status).toBe(404);
    expect(missing.json()).toEqual({ error: 'not found', code: 'NOT_FOUND' });
    expect(missing.res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(responses.map((r) => [r.path, r.status])).toEqual([
      ['/health', 200],
      ['/status', 200],
      ['/metrics', 200],
      ['/nope', 404],
    ]);
    expect(responses[0]!.requestId).toBe('abc-123');
  });

  it('serves Prometheus text with the reference and plan metric names', async () => {
    const { board, get } = await start();
    board.set({
      state: 'syncing',
      lastSequence: 5n,
      headSequence: 9n,
      lagSequences: 4n,
      lagSeconds: 3,
    });
    await get('/health');
    const { res, text } = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      'synddb_validator_messages_synced_total',
      'synddb_validator_last_sequence',
      'synddb_validator_sync_lag_seconds',
      'synddb_validator_gaps_detected_total',
      'synddb_validator_withdrawals_processed_total',
      'synddb_validator_errors_total',
      'synddb_validator_apply_duration_seconds',
      'synddb_validator_verify_duration_seconds',
      'synddb_validator_fetch_duration_seconds',
      'synddb_validator_sync_duration_seconds',
      'synddb_validator_pending_changesets',
      'synddb_validator_batch_fetch_duration_seconds',
      'synddb_validator_batches_synced_total',
      'synddb_validator_syncing',
      'synddb_sync_lag_sequences',
      'synddb_messages_applied_total',
      'synddb_changesets_applied_total',
      'synddb_snapshots_applied_total',
      'synddb_signature_verification_failures_total',
      'synddb_withdrawals_processed_total',
      'synddb_batch_fetch_duration_seconds',
      'synddb_batch_verify_duration_seconds',
      'synddb_apply_duration_seconds',
      'synddb_prefetch_depth',
      'synddb_sync_halts_total',
      'axum_http_requests_total',
      'axum_http_requests_duration_seconds',
      'axum_http_requests_pending',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^synddb_validator_last_sequence 5$/m);
    expect(text).toMatch(/^synddb_sync_lag_sequences 4$/m);
    expect(text).toMatch(/^synddb_validator_sync_lag_seconds 3$/m);
    expect(text).toMatch(/^synddb_validator_syncing 1$/m);
    expect(text).toMatch(/^synddb_validator_messages_synced_total\{type="changeset"\} 0$/m);
    expect(text).toMatch(
      /^axum_http_requests_total\{method="GET",endpoint="\/health",status="200"\} 1$/m,
    );
  });

  it('rejects a negative maxLag', () => {
    expect(() =>
      createValidatorApi({
        status: new StatusBoard().provider,
        metrics: createValidatorMetrics(),
        maxLag: -1,
      }),
    ).toThrow(/maxLag/);
  });
});
