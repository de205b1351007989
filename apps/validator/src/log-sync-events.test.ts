import { EventEmitter } from 'node:events';
import { createLogger } from '@synddb/app-kit';
import type { SyncEngine, SyncEvents } from '@synddb/sync';
import { describe, expect, it } from 'vitest';
import { attachSyncLogging, formatSeconds, progressFields } from './log-sync-events';

describe('attachSyncLogging', () => {
  it('logs progress, halts, resumes, snapshots, gap skips and errors', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      json: true,
      level: 'debug',
      write: (l) => lines.push(JSON.parse(l)),
    });
    const engine = new EventEmitter<SyncEvents>();
    const detach = attachSyncLogging(engine as unknown as SyncEngine, logger);
    const halt = {
      code: 'CHANGESET_CONFLICT',
      kind: 'conflict' as const,
      message: 'row 7 changed',
      sequence: 12n,
      since: 1000,
      retries: 0,
    };
    engine.emit('progress', { applied: 499n, head: 999n, rate: 250.04, etaSeconds: 2 });
    const retry = {
      sequence: 12n,
      attempt: 1,
      delayMs: 250.4,
      code: 'STORAGE_UNAVAILABLE',
      kind: 'storage' as const,
      message: 'HTTP 503',
      retryAfterMs: 1000,
      halted: false,
    };
    engine.emit('retrying', retry);
    engine.emit('retrying', { ...retry, attempt: 6, halted: true, retryAfterMs: undefined });
    engine.emit('halted', halt);
    engine.emit('resumed', { sequence: 12n, haltedFor: 5000, previous: halt });
    engine.emit('snapshot', { sequence: 20n, timestamp: 1n, bytes: 4096 });
    engine.emit('gapSkipped', { start: 30n, end: 33n, reason: 'missing' });
    engine.emit('signatureFailure', { sequence: 40n, code: 'MESSAGE_SIGNATURE' });
    engine.emit('caughtUp', { sequence: 41n });
    engine.emit('updateResolverFailed', { message: 'worker exited with code 1' });
    engine.emit('error', new Error('bug'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'catching up'],
      ['warn', 'sync step failed, retrying'],
      ['debug', 'sync step failed, retrying'],
      ['error', 'sync halted: the replica stops advancing until the cause is gone'],
      ['info', 'sync resumed'],
      ['info', 'snapshot applied'],
      ['warn', 'skipped a sequence gap (GAP_SKIP_ON_FAILURE)'],
      ['error', 'signature verification failed'],
      ['info', 'caught up with storage'],
      ['warn', 'state root UPDATE resolver worker failed: UPDATEs are resolved on the sync thread'],
      ['error', 'sync engine error'],
    ]);
    expect(lines[0]).toMatchObject({
      component: 'sync',
      applied: 499,
      head: 999,
      percent: 50,
      ratePerSecond: 250,
      eta: '2s',
    });
    expect(lines[1]).toMatchObject({
      sequence: 12,
      attempt: 1,
      delayMs: 250,
      code: 'STORAGE_UNAVAILABLE',
      reason: 'HTTP 503',
      retryAfterMs: 1000,
    });
    expect(lines[2]).not.toHaveProperty('retryAfterMs');
    expect(lines[3]).toMatchObject({
      code: 'CHANGESET_CONFLICT',
      sequence: 12,
      reason: 'row 7 changed',
    });
    expect(lines[6]).toMatchObject({ start: 30, endExclusive: 33 });
    // following a live sequencer: repeated "caught up" without a catch-up in between is debug
    const before = lines.length;
    engine.emit('caughtUp', { sequence: 42n });
    engine.emit('caughtUp', { sequence: 43n });
    engine.emit('progress', { applied: 43n, head: 90n, rate: 10, etaSeconds: 5 });
    engine.emit('caughtUp', { sequence: 90n });
    expect(lines.slice(before).map((l) => [l.level, l.msg])).toEqual([
      ['debug', 'caught up with storage'],
      ['debug', 'caught up with storage'],
      ['info', 'catching up'],
      ['info', 'caught up with storage'],
    ]);
    detach();
    expect(engine.listenerCount('halted')).toBe(0);
  });

  it('formats progress and durations', () => {
    expect(formatSeconds(3725)).toBe('1h02m');
    expect(formatSeconds(65)).toBe('1m05s');
    expect(formatSeconds(0.4)).toBe('0s');
    expect(progressFields({ applied: null, head: null, rate: 0, etaSeconds: null })).toEqual({
      applied: null,
      head: null,
      percent: undefined,
      ratePerSecond: 0,
      eta: 'unknown',
    });
  });
});
