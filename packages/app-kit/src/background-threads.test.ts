import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { niceV8BackgroundThreads } from './background-threads';

/** Niceness of each of this process's threads named `name` (Linux /proc; field 19 of stat). */
function nicenessOf(name: string): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) return [];
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return [];
    }
  });
}

describe('niceV8BackgroundThreads', () => {
  it.runIf(process.platform === 'linux')(
    "sets the V8 platform threads' niceness and no other thread's",
    () => {
      // vitest runs this file in a process of its own (forks pool): nothing else is affected
      const main = nicenessOf('node').concat(nicenessOf('MainThread'));
      expect(nicenessOf('V8Worker').length).toBeGreaterThan(0);
      const result = niceV8BackgroundThreads(7);
      expect(result).toEqual({ threads: nicenessOf('V8Worker').length });
      expect(new Set(nicenessOf('V8Worker'))).toEqual(new Set([7]));
      expect(nicenessOf('node').concat(nicenessOf('MainThread'))).toEqual(main);
      expect(niceV8BackgroundThreads(0)).toEqual({
        threads: 0,
        note: 'niceness 0: left as they are',
      });
    },
  );

  it('refuses a niceness outside 0..19', () => {
    for (const bad of [-1, 20, 1.5, Number.NaN]) {
      expect(() => niceV8BackgroundThreads(bad)).toThrow(RangeError);
    }
  });
});
