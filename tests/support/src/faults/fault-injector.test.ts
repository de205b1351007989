import { describe, expect, it, vi } from 'vitest';
import { onCleanup } from '../cleanup/on-cleanup';
import { createFaultInjector, FaultRuleError } from './create-fault-injector';
import type { FaultRequest, FaultRule } from './fault-types';

const download = (path = '/b/o/x'): FaultRequest => ({
  operation: 'download',
  method: 'GET',
  path,
});
const list: FaultRequest = { operation: 'list', method: 'GET', path: '/b/o' };
const unavailable = { kind: 'status', status: 503 } as const;

function quiet() {
  const lines: string[] = [];
  return { injector: createFaultInjector({ log: (line) => lines.push(line) }), lines };
}

describe('createFaultInjector', () => {
  it('serves nothing without rules', () => {
    const { injector } = quiet();
    expect(injector.pick(download())).toBeNull();
    expect(injector.count()).toBe(0);
  });

  it('fails the first N matching requests after skipping K, by operation, path and method', () => {
    const { injector } = quiet();
    injector.set([
      { on: 'download', path: 'x', fault: unavailable, skip: 1, times: 2 },
      { on: ['list'], method: 'post', fault: { kind: 'reset' } },
    ]);
    const picks = [1, 2, 3, 4].map(() => injector.pick(download())?.kind ?? null);
    expect(picks).toEqual([null, 'status', 'status', null]);
    expect(injector.pick(download('/b/o/y'))).toBeNull(); // path does not match
    expect(injector.pick(list)).toBeNull(); // method does not match
    expect(injector.pick({ ...list, method: 'POST' })?.kind).toBe('reset');
    expect(injector.count()).toBe(3);
    expect(injector.count({ operation: 'download' })).toBe(2);
    expect(injector.count({ kind: 'reset' })).toBe(1);
    expect(injector.served().map((s) => [s.rule, s.kind, s.operation])).toEqual([
      [0, 'status', 'download'],
      [0, 'status', 'download'],
      [1, 'reset', 'list'],
    ]);
  });

  it('tries rules in order: a spent rule lets the next one fire', () => {
    const { injector } = quiet();
    injector.set([
      { on: 'any', fault: unavailable, times: 1 },
      { on: 'any', fault: { kind: 'stall' }, times: 1 },
    ]);
    expect([1, 2, 3].map(() => injector.pick(list)?.kind ?? null)).toEqual([
      'status',
      'stall',
      null,
    ]);
  });

  it('replays a probabilistic run from its printed seed', () => {
    const rules: FaultRule[] = [{ on: 'any', fault: unavailable, probability: 0.3 }];
    const first = quiet();
    first.injector.set(rules);
    const seed = first.injector.seed;
    expect(seed).toBeTypeOf('number');
    expect(first.lines.join('\n')).toContain(`1 probabilistic fault rule(s): ${seed}`);
    const run = (injector: typeof first.injector) =>
      Array.from({ length: 200 }, () => injector.pick(download()) !== null);
    const a = run(first.injector);
    const second = quiet();
    second.injector.set(rules, { seed: seed! });
    expect(first.lines.join('\n')).toContain(`SYNDDB_TEST_SEED=${seed}`);
    expect(run(second.injector)).toEqual(a);
    expect(second.lines).toEqual([`[seed] faults: 1 probabilistic fault rule(s): ${seed} (given)`]);
    // Roughly the asked share fails (200 draws; a loose bound, the sequence is fixed by the seed).
    const failed = a.filter(Boolean).length;
    expect(failed).toBeGreaterThan(20);
    expect(failed).toBeLessThan(100);
  });

  it('takes the seed from SYNDDB_TEST_SEED when none is given', () => {
    vi.stubEnv('SYNDDB_TEST_SEED', '424242');
    onCleanup(() => vi.unstubAllEnvs());
    const { injector } = quiet();
    injector.set([{ on: 'any', fault: unavailable, probability: 0.5 }]);
    expect(injector.seed).toBe(424242);
  });

  it('clear() stops the faults and keeps the counts', () => {
    const { injector } = quiet();
    injector.set([{ on: 'any', fault: unavailable }]);
    injector.pick(list);
    injector.clear();
    expect(injector.pick(list)).toBeNull();
    expect(injector.rules()).toEqual([]);
    expect(injector.count()).toBe(1);
  });

  it('whenServed resolves once the count is reached, and honours an abort', async () => {
    const { injector } = quiet();
    injector.set([{ on: 'any', fault: unavailable }]);
    const two = injector.whenServed(2);
    let resolved = false;
    void two.then(() => {
      resolved = true;
    });
    injector.pick(list);
    await Promise.resolve();
    expect(resolved).toBe(false);
    injector.pick(list);
    await two;
    await expect(injector.whenServed(1)).resolves.toBeUndefined();
    const reason = new Error('enough');
    await expect(injector.whenServed(10, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });

  it.each([
    [{ on: 'any', fault: { kind: 'explode' } }],
    [{ on: [], fault: unavailable }],
    [{ on: 'any', fault: unavailable, probability: 1.5 }],
    [{ on: 'any', fault: unavailable, times: -1 }],
    [{ on: 'any', fault: { kind: 'status', status: 99 } }],
    [{ on: 'any', fault: { kind: 'slow-body', chunkBytes: 0 } }],
    [{ on: 'any', fault: { kind: 'delay', ms: 1.5 } }],
  ])('rejects an invalid rule %#', (rule) => {
    const { injector } = quiet();
    expect(() => injector.set([rule as unknown as FaultRule])).toThrow(FaultRuleError);
  });
});
