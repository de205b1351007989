import { describe, expect, it, vi } from 'vitest';
import { onCleanup } from '../cleanup/on-cleanup';
import { seededRandom } from './seeded-random';
import { testRandom, testSeed } from './test-seed';

function lines() {
  const out: string[] = [];
  return { out, log: (line: string) => out.push(line) };
}

describe('seededRandom', () => {
  it('is deterministic and in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const values = Array.from({ length: 1000 }, () => a());
    expect(values).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(990);
  });
});

describe('testSeed', () => {
  it('draws one random seed per file, prints it with how to replay it', () => {
    vi.stubEnv('SYNDDB_TEST_SEED', '');
    onCleanup(() => vi.unstubAllEnvs());
    const { out, log } = lines();
    const first = testSeed('kill moments', { log });
    expect(testSeed('fault draws', { log })).toBe(first);
    expect(out).toEqual([
      `[seed] kill moments: ${first} (random; replay with SYNDDB_TEST_SEED=${first})`,
      `[seed] fault draws: ${first} (random; replay with SYNDDB_TEST_SEED=${first})`,
    ]);
  });

  it('takes SYNDDB_TEST_SEED, and a given seed over it', () => {
    vi.stubEnv('SYNDDB_TEST_SEED', ' 424242 ');
    onCleanup(() => vi.unstubAllEnvs());
    const { out, log } = lines();
    expect(testSeed('replayed', { log })).toBe(424242);
    expect(testSeed('fixed', { seed: 7, log })).toBe(7);
    expect(out).toEqual([
      '[seed] replayed: 424242 (from SYNDDB_TEST_SEED)',
      '[seed] fixed: 7 (given)',
    ]);
  });

  it.each(['-1', '1.5', '4294967296', 'abc'])('refuses SYNDDB_TEST_SEED=%s', (value) => {
    vi.stubEnv('SYNDDB_TEST_SEED', value);
    onCleanup(() => vi.unstubAllEnvs());
    expect(() => testSeed('bad', { log: () => undefined })).toThrow(RangeError);
  });
});

describe('testRandom', () => {
  it('replays the same draws from the same seed', () => {
    const a = testRandom('a', { seed: 99, log: () => undefined });
    const b = testRandom('b', { seed: 99, log: () => undefined });
    const draws = Array.from({ length: 100 }, () => a.int(40));
    expect(draws).toEqual(Array.from({ length: 100 }, () => b.int(40)));
    expect(draws.every((n) => Number.isInteger(n) && n >= 0 && n < 40)).toBe(true);
    expect(a.seed).toBe(99);
  });
});
