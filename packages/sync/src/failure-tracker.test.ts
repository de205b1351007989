import { ChangesetConflictError } from '@synddb/applier';
import { GcsRequestError, HttpStatusError } from '@synddb/fetchers';
import { describe, expect, it } from 'vitest';
import { SequenceGapError } from './errors';
import { FailureTracker } from './failure-tracker';

function tracker(gapRetryCount = 2) {
  let now = 1_000;
  const failures = new FailureTracker({
    gapRetryCount,
    retryInitialDelayMs: 100,
    gapRetryDelayMs: 1000,
    maxRetryAfterMs: 30_000,
    random: () => 1,
    now: () => now,
  });
  return { failures, advance: (ms: number) => (now += ms) };
}

const unavailable = () => new GcsRequestError('download gs://b/x', new HttpStatusError('u', 503));
const conflict = () => new ChangesetConflictError('DATA', 'accounts', 'UPDATE', [1n]);

describe('FailureTracker', () => {
  it('reports a storage error as a halt after gapRetryCount retries, with a growing delay', () => {
    const { failures } = tracker(2);
    const outcomes = [1, 2, 3, 4].map(() => failures.fail(unavailable(), 7n));
    expect(outcomes.map((o) => o.newHalt !== null)).toEqual([false, false, true, false]);
    expect(outcomes.map((o) => o.retry.halted)).toEqual([false, false, true, true]);
    expect(outcomes.map((o) => o.retry.delayMs)).toEqual([100, 200, 400, 800]);
    expect(outcomes.map((o) => o.retry.attempt)).toEqual([1, 2, 3, 4]);
    expect(failures.halt).toMatchObject({
      code: 'GCS_REQUEST',
      kind: 'storage',
      sequence: 7n,
      since: 1_000,
      retries: 1,
    });
  });

  it('halts at once on anything but storage errors and gaps', () => {
    const { failures } = tracker(5);
    const { newHalt } = failures.fail(conflict(), 3n);
    expect(newHalt).toMatchObject({ code: 'CHANGESET_CONFLICT', kind: 'conflict', retries: 0 });
  });

  it('keeps one halt while storage errors alternate (a fallback between its sources, a gap)', () => {
    const { failures } = tracker(0);
    expect(failures.fail(unavailable(), 9n).newHalt?.code).toBe('GCS_REQUEST');
    expect(failures.fail(new SequenceGapError(9n, 12n, 2), 9n).newHalt).toBeNull();
    expect(failures.fail(new HttpStatusError('u', 429), 9n).newHalt).toBeNull();
    expect(failures.halt).toMatchObject({ code: 'HTTP_STATUS', kind: 'storage', retries: 2 });
    // A conflict, or another sequence, is a new halt.
    expect(failures.fail(conflict(), 9n).newHalt?.kind).toBe('conflict');
    expect(failures.fail(conflict(), 10n).newHalt?.sequence).toBe(10n);
  });

  it('honours Retry-After in the delay, within maxRetryAfterMs', () => {
    const { failures } = tracker();
    const error = (retryAfterMs: number) =>
      new GcsRequestError('list', new HttpStatusError('u', 429, '', retryAfterMs));
    expect(failures.fail(error(5_000), 0n).retry).toMatchObject({
      delayMs: 5_000,
      retryAfterMs: 5_000,
    });
    expect(failures.fail(error(600_000), 0n).retry.delayMs).toBe(30_000);
  });

  it('caughtUp ends a storage halt but not a conflict; progressed ends any halt', () => {
    const { failures, advance } = tracker(0);
    failures.fail(unavailable(), 4n);
    advance(500);
    expect(failures.caughtUp()).toMatchObject({ code: 'GCS_REQUEST', since: 1_000 });
    expect(failures.halt).toBeNull();
    // Counters restarted: the next storage error is retry 1 again.
    expect(failures.fail(unavailable(), 4n).retry.attempt).toBe(1);
    failures.fail(conflict(), 4n);
    expect(failures.caughtUp()).toBeNull();
    expect(failures.halt?.kind).toBe('conflict');
    expect(failures.progressed()?.kind).toBe('conflict');
    expect(failures.halt).toBeNull();
  });

  it('counts a gap once per attempt: retries spent after gapRetryCount failures', () => {
    const { failures } = tracker(2);
    const seen: boolean[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      seen.push(failures.gapRetriesSpent);
      expect(failures.nextTransientAttempt).toBe(attempt);
      failures.fail(new SequenceGapError(5n, 8n, attempt), 5n);
    }
    expect(seen).toEqual([false, false, true]);
    failures.gapSkipped();
    expect(failures.nextTransientAttempt).toBe(1);
  });
});
