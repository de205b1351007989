import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  boolean,
  type CliProcess,
  configProblems,
  duration,
  formatConfigProblems,
  formatConfigTable,
  formatHelp,
  list,
  listOptions,
  optional,
  readCommandLine,
  readmeConfigTable,
  runDaemonCli,
  text,
  valueSources,
  withDefault,
} from './index';

const shape = {
  syncInterval: withDefault('syncInterval', duration(), '1s', {
    env: 'SYNC_INTERVAL',
    value: 'DURATION',
    group: 'Sync',
    describe: 'How often to poll.',
  }),
  rpcUrl: optional('rpcUrl', list(), {
    env: 'RPC_URL',
    value: 'URL',
    group: 'Chain',
    describe: 'RPC | URLs.',
  }),
  privateKey: optional('privateKey', text(), {
    env: 'PRIVATE_KEY',
    value: 'HEX',
    group: 'Chain',
    describe: 'Key.',
  }),
  logJson: withDefault('logJson', boolean(), false, {
    env: 'LOG_JSON',
    group: 'Logging',
    describe: 'JSON lines.',
  }),
  logLevel: withDefault('logLevel', z.enum(['trace', 'debug', 'info', 'warn', 'error']), 'info', {
    env: 'LOG_LEVEL',
    value: 'LEVEL',
    group: 'Logging',
    describe: 'Minimum level.',
  }),
  shutdownTimeout: withDefault('shutdownTimeout', duration(), '10s', {
    env: 'SHUTDOWN_TIMEOUT',
    value: 'DURATION',
    group: 'Logging',
    describe: 'Graceful stop limit.',
  }),
};
const schema = z.object(shape);
const options = listOptions(shape);
const settings = {
  repeatable: new Set(['rpcUrl'] as const),
  secret: new Set(['privateKey'] as const),
};

describe('readCommandLine', () => {
  it('reads env and flags; flags override env; switches take an optional value', () => {
    const line = readCommandLine(
      options,
      ['--sync-interval', '5s', '--log-json', '--rpc-url=http://a', '--rpc-url', 'http://b'],
      { SYNC_INTERVAL: '2s', LOG_LEVEL: 'debug', PRIVATE_KEY: 'secret', RPC_URL: '' },
      settings,
    );
    expect(line).toEqual({
      kind: 'run',
      raw: {
        syncInterval: '5s',
        logLevel: 'debug',
        privateKey: 'secret',
        logJson: 'true',
        rpcUrl: ['http://a', 'http://b'],
      },
      sources: {
        syncInterval: '--sync-interval="5s"',
        logLevel: 'env LOG_LEVEL="debug"',
        privateKey: 'env PRIVATE_KEY',
        logJson: '--log-json="true"',
        rpcUrl: '--rpc-url="http://a" --rpc-url="http://b"',
      },
      problems: [],
    });
    expect(schema.parse(line.kind === 'run' ? line.raw : {})).toMatchObject({
      syncInterval: 5000,
      logJson: true,
      rpcUrl: ['http://a', 'http://b'],
    });
  });

  it('help and version win; syntax problems are named', () => {
    expect(readCommandLine(options, ['--bogus', '-h'], {})).toEqual({ kind: 'help' });
    expect(readCommandLine(options, ['-V'], {})).toEqual({ kind: 'version' });
    const line = readCommandLine(
      options,
      [
        'stray',
        '--sync-intervl=1s',
        '--sync-interval',
        '1s',
        '--sync-interval',
        '2s',
        '--log-level',
      ],
      {},
    );
    expect(line.kind === 'run' && formatConfigProblems(line.problems)).toBe(
      [
        'invalid configuration:',
        '  "stray" (command line): unexpected argument (options are --name value or --name=value)',
        '  --sync-intervl (command line): unknown option (did you mean --sync-interval?); see --help',
        '  --sync-interval / SYNC_INTERVAL (command line): given more than once',
        '  --log-level / LOG_LEVEL (command line): missing value (LEVEL)',
      ].join('\n'),
    );
  });

  it('names schema issues and unknown keys with their sources; secrets stay hidden', () => {
    const input = { syncInterval: 'soon', privateKey: 'secret', extra: 1 };
    const sources = valueSources<string>(input, settings.secret);
    expect(sources).toEqual({
      syncInterval: 'value "soon"',
      privateKey: 'value',
      extra: 'value "1"',
    });
    const result = schema.safeParse(input);
    expect(configProblems(options, ['extra'], result.error, sources)).toEqual([
      { key: 'extra', names: 'extra', source: undefined, message: 'unknown option' },
      {
        key: 'syncInterval',
        names: '--sync-interval / SYNC_INTERVAL',
        source: 'value "soon"',
        message: 'expected a duration such as 500ms, 1s, 5m or 1h 30m',
      },
    ]);
  });

  it('refuses a schema entry without option metadata', () => {
    expect(() => listOptions({ bare: z.string() })).toThrow('option bare has no metadata');
  });
});

describe('help and README table', () => {
  it('formats help after the intro, grouped, with defaults and exit codes', () => {
    const help = formatHelp(['demo 1.0.0'], options);
    expect(help).toContain('demo 1.0.0\n\n  -h, --help       Show this help\n');
    expect(help).toContain(
      `\nSync:\n  ${'--sync-interval DURATION'.padEnd(44)} SYNC_INTERVAL\n      How often to poll. [default: 1s]\n`,
    );
    expect(help).toContain(`  ${'--log-json [BOOL]'.padEnd(44)} LOG_JSON\n`);
    expect(help.endsWith('2 invalid configuration.\n')).toBe(true);
  });

  it('keeps the README table current', () => {
    const readme = join(mkdtempSync(join(tmpdir(), 'app-kit-')), 'README.md');
    const start = '<!-- config-table:start (generated by `pnpm readme`; do not edit) -->';
    writeFileSync(readme, `# x\n${start}\nstale\n<!-- config-table:end -->\n`);
    const table = formatConfigTable(options);
    expect(table).toContain('| `--rpc-url URL`     | `RPC_URL`     | —       | RPC \\| URLs. |');
    const stale = readmeConfigTable(readme, table);
    expect(stale.current).not.toBe(stale.expected);
    readmeConfigTable(readme, table, true);
    const fresh = readmeConfigTable(readme, table);
    expect(fresh.current).toBe(fresh.expected);
    expect(readFileSync(readme, 'utf8').endsWith('<!-- config-table:end -->\n')).toBe(true);
    writeFileSync(readme, '# no markers\n');
    expect(() => readmeConfigTable(readme, table)).toThrow('lacks the config-table markers');
  });
});

describe('runDaemonCli', () => {
  class DemoConfigError extends Error {}
  const signals: Array<(s: 'SIGINT' | 'SIGTERM') => void> = [];
  const run = (argv: string[], start: () => Promise<{ stop(): Promise<void> }>) => {
    const out: string[] = [];
    const err: string[] = [];
    const exits: number[] = [];
    const proc: CliProcess<{ stop(): Promise<void> }> = {
      argv,
      env: {},
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      onSignal: (l) => {
        signals.push(l);
        return () => {};
      },
      exit: (code) => exits.push(code),
      onStarted: () => {
        signals.at(-1)!('SIGTERM');
      },
      logger: {
        level: 'info',
        isEnabled: () => false,
        trace() {},
        debug() {},
        info() {},
        warn() {},
        error() {},
        child() {
          return this;
        },
      },
    };
    const code = runDaemonCli(
      {
        name: 'demo',
        version: '1.2.3',
        parse: (args, env) => {
          const line = readCommandLine(options, args, env);
          if (line.kind !== 'run') return line;
          if (line.problems.length > 0)
            throw new DemoConfigError(formatConfigProblems(line.problems));
          return { kind: 'run', config: schema.parse(line.raw) };
        },
        help: () => 'HELP\n',
        isConfigError: (e) => e instanceof DemoConfigError,
        start,
      },
      proc,
    );
    return code.then((c) => ({ code: c, out: out.join(''), err: err.join(''), exits }));
  };
  const ok = async () => ({ stop: async () => {} });

  it('exit codes: 0 help, version and graceful stop; 2 invalid configuration; 1 failures', async () => {
    expect(await run(['--help'], ok)).toMatchObject({ code: 0, out: 'HELP\n' });
    expect(await run(['--version'], ok)).toMatchObject({ code: 0, out: 'demo 1.2.3\n' });
    expect(await run(['--nope'], ok)).toMatchObject({
      code: 2,
      err: 'demo: invalid configuration:\n  --nope (command line): unknown option; see --help\n\nRun demo --help for the options.\n',
    });
    expect((await run([], ok)).code).toBe(0);
    expect((await run([], () => Promise.reject(new DemoConfigError('bad')))).err).toBe(
      'demo: bad\n',
    );
    expect((await run([], () => Promise.reject(new DemoConfigError('bad')))).code).toBe(2);
    expect((await run([], () => Promise.reject(new Error('boom')))).code).toBe(1);
    const failingStop = async () => ({ stop: () => Promise.reject(new Error('stuck')) });
    expect((await run([], failingStop)).code).toBe(1);
  });
});
