import { describe, expect, it } from 'vitest';
import { retryAfterOf } from '../errors';
import { parseRetryAfter } from './retry-after';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');

  it.each([
    ['0', 0],
    ['7', 7000],
    [' 120 ', 120_000],
    ['Mon, 30 Nov 2026 12:00:30 GMT', 30_000],
    ['Monday, 30-Nov-26 12:01:00 GMT', 60_000],
    ['Mon, 30 Nov 2026 11:00:00 GMT', 0], // in the past: no wait
  ])('reads %j as %i ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it.each([null, '', '-1', '1.5', 'soon', '2026-11-30T12:00:30Z', '99999999999999999999'])(
    'ignores %j',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});

describe('retryAfterOf', () => {
  it('reads retryAfterMs from an error or its causes, nothing else', () => {
    expect(retryAfterOf({ retryAfterMs: 5 })).toBe(5);
    expect(retryAfterOf(new Error('x', { cause: { retryAfterMs: 9 } }))).toBe(9);
    expect(retryAfterOf(new Error('x'))).toBeUndefined();
    expect(retryAfterOf({ retryAfterMs: -1 })).toBeUndefined();
    expect(retryAfterOf('x')).toBeUndefined();
    // An error that has the field decides; its cause is not consulted.
    expect(retryAfterOf({ retryAfterMs: undefined, cause: { retryAfterMs: 3 } })).toBeUndefined();
  });
});
