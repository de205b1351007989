import { describe, expect, it } from 'vitest';
import { retryDelay } from './retry-delay';

const base = {
  initialDelayMs: 250,
  maxDelayMs: 5000,
  retryAfterMs: undefined,
  maxRetryAfterMs: 60_000,
};

describe('retryDelay', () => {
  it('doubles from the initial ceiling up to the maximum and stays there', () => {
    const top = (failures: number) => retryDelay({ ...base, failures, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6, 7, 100, 5000].map(top)).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000,
    ]);
  });

  it('jitters within [ceiling/2, ceiling]: spread out, never a hot loop', () => {
    expect(retryDelay({ ...base, failures: 1, random: () => 0 })).toBe(125);
    expect(retryDelay({ ...base, failures: 9, random: () => 0 })).toBe(2500);
    expect(retryDelay({ ...base, failures: 9, random: () => 0.5 })).toBe(3750);
  });

  it('waits at least a Retry-After, up to maxRetryAfterMs', () => {
    const at = (retryAfterMs: number) =>
      retryDelay({ ...base, failures: 1, retryAfterMs, random: () => 0 });
    expect(at(0)).toBe(125);
    expect(at(30_000)).toBe(30_000);
    expect(at(3_600_000)).toBe(60_000);
  });

  it('starts at the maximum when the initial delay exceeds it', () => {
    expect(retryDelay({ ...base, initialDelayMs: 10_000, failures: 1, random: () => 1 })).toBe(
      5000,
    );
  });
});
