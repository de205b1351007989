import { randomInt } from 'node:crypto';
import { seededRandom } from './seeded-random';

/** The environment variable that replays a randomized test: `SYNDDB_TEST_SEED=123 pnpm test`. */
export const TEST_SEED_ENV = 'SYNDDB_TEST_SEED';

export interface TestSeedOptions {
  /** Use this seed (e.g. a fixed one in the test). Default: `SYNDDB_TEST_SEED`, else random. */
  seed?: number;
  /** Where the seed line goes. Default `console.error` (vitest shows it with the test). */
  log?: (line: string) => void;
}

// One random seed per test file (vitest evaluates this module per file): every randomized part of
// a file draws from it, so the one printed number replays all of them.
let fileSeed: number | undefined;

/**
 * The seed of a randomized test: `options.seed`, else `SYNDDB_TEST_SEED`, else a random one
 * (the same for every caller in the test file). Printed as `[seed] {label}: {seed} (...)` with
 * how to replay it.
 */
export function testSeed(label: string, options: TestSeedOptions = {}): number {
  const log = options.log ?? ((line: string) => console.error(line));
  const fromEnvironment = process.env[TEST_SEED_ENV]?.trim();
  let seed: number;
  let origin: string;
  if (options.seed !== undefined) {
    seed = options.seed;
    origin = 'given';
  } else if (fromEnvironment !== undefined && fromEnvironment !== '') {
    seed = Number(fromEnvironment);
    origin = `from ${TEST_SEED_ENV}`;
  } else {
    fileSeed ??= randomInt(0, 2 ** 32);
    seed = fileSeed;
    origin = `random; replay with ${TEST_SEED_ENV}=${seed}`;
  }
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`${label}: a seed is a 32-bit unsigned integer, got ${seed} (${origin})`);
  }
  log(`[seed] ${label}: ${seed} (${origin})`);
  return seed;
}

/** A replayable source of randomness for a test. */
export interface TestRandom {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, below). */
  int(below: number): number;
}

/** A generator seeded by `testSeed(label, options)`: printed, replayable with `SYNDDB_TEST_SEED`. */
export function testRandom(label: string, options: TestSeedOptions = {}): TestRandom {
  const seed = testSeed(label, options);
  const next = seededRandom(seed);
  return { seed, next, int: (below) => Math.floor(next() * below) };
}
