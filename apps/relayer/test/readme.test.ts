import { readmeConfigTable } from '@synddb/app-kit';
import { describe, expect, it } from 'vitest';
import { formatConfigTable } from '../src/config/help';

const README = new URL('../README.md', import.meta.url);

describe('README configuration table', () => {
  it('matches the config schema (run `pnpm --filter synddb-relayer readme` to update)', () => {
    const update = process.env.UPDATE_README === '1';
    const { current, expected } = readmeConfigTable(README, formatConfigTable(), update);
    expect(current).toBe(expected);
  });
});
