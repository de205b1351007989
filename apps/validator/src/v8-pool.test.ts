import { describe, expect, it } from 'vitest';
import {
  autoV8PoolSize,
  currentV8PoolSize,
  RELAUNCHED_ENV,
  requestedV8PoolSize,
  v8PoolRelaunch,
} from './v8-pool';

const base = {
  argv: ['/usr/bin/node', '/app/dist/cli.js', '--sequencer-url', 'http://s'],
  execArgv: [] as string[],
  env: {} as NodeJS.ProcessEnv,
  cores: 2,
  canExec: true,
};

describe('the V8 pool size relaunch', () => {
  it('auto is one thread fewer than the cores, from 1 to 4', () => {
    expect([1, 2, 3, 4, 5, 64].map((c) => autoV8PoolSize(c))).toEqual([1, 1, 2, 3, 4, 4]);
  });

  it('relaunches with the wanted size before node flags, the script and its arguments', () => {
    expect(
      v8PoolRelaunch({ ...base, execArgv: ['--enable-source-maps'] }, '/usr/bin/node'),
    ).toEqual([
      '/usr/bin/node',
      '--v8-pool-size=1',
      '--enable-source-maps',
      '/app/dist/cli.js',
      '--sequencer-url',
      'http://s',
    ]);
  });

  it('reads --v8-pool-size N, --v8-pool-size=N and V8_POOL_SIZE, the flag first', () => {
    const argv = (...a: string[]) => ['/usr/bin/node', '/app/dist/cli.js', ...a];
    expect(requestedV8PoolSize({ ...base, argv: argv('--v8-pool-size', '2') })).toBe(2);
    expect(requestedV8PoolSize({ ...base, argv: argv('--v8-pool-size=3') })).toBe(3);
    expect(requestedV8PoolSize({ ...base, env: { V8_POOL_SIZE: ' 2 ' } })).toBe(2);
    expect(
      requestedV8PoolSize({
        ...base,
        argv: argv('--v8-pool-size', '3'),
        env: { V8_POOL_SIZE: '2' },
      }),
    ).toBe(3);
    expect(requestedV8PoolSize({ ...base, env: { V8_POOL_SIZE: 'AUTO' }, cores: 8 })).toBe(4);
    // refused by the configuration later: no relaunch
    for (const bad of ['-1', 'two', '65', '']) {
      expect(requestedV8PoolSize({ ...base, env: { V8_POOL_SIZE: bad } })).toBeUndefined();
      expect(v8PoolRelaunch({ ...base, env: { V8_POOL_SIZE: bad } }, 'node')).toBeNull();
    }
    // after `--`, arguments are not the validator's
    expect(requestedV8PoolSize({ ...base, argv: argv('--', '--v8-pool-size=3') })).toBe(1);
  });

  it("runs as is when Node's size is wanted, node's flags or NODE_OPTIONS set it, it cannot exec, or it already relaunched", () => {
    expect(v8PoolRelaunch({ ...base, cores: 8 }, 'node')).toBeNull(); // auto = 4 = Node's
    expect(v8PoolRelaunch({ ...base, env: { V8_POOL_SIZE: '0' } }, 'node')).toBeNull();
    expect(v8PoolRelaunch({ ...base, execArgv: ['--v8-pool-size=2'] }, 'node')).toBeNull();
    expect(v8PoolRelaunch({ ...base, execArgv: ['--v8-pool-size', '2'] }, 'node')).toBeNull();
    expect(
      v8PoolRelaunch(
        { ...base, env: { NODE_OPTIONS: '--max-old-space-size=512 --v8-pool-size=3' } },
        'node',
      ),
    ).toBeNull();
    expect(v8PoolRelaunch({ ...base, canExec: false }, 'node')).toBeNull();
    expect(v8PoolRelaunch({ ...base, env: { [RELAUNCHED_ENV]: '1' } }, 'node')).toBeNull();
    // a NODE_OPTIONS without it does not count
    expect(
      v8PoolRelaunch({ ...base, env: { NODE_OPTIONS: '--v8-pool-sizes' } }, 'node'),
    ).not.toBeNull();
  });

  it('reports the size the process runs with: node flags over NODE_OPTIONS over 4', () => {
    expect(currentV8PoolSize([], '')).toBe(4);
    expect(currentV8PoolSize([], '--v8-pool-size=2')).toBe(2);
    expect(currentV8PoolSize(['--v8-pool-size=1'], '--v8-pool-size=2')).toBe(1);
    expect(currentV8PoolSize(['--v8-pool-size', '3'], '')).toBe(3);
  });
});
