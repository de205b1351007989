import { join } from 'node:path';
import { onCleanup, tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { CLI_OPTIONS, cliHelp, parseCliArgs } from './parse-cli-args';
import { runDevnet } from './run-devnet';

describe('parseCliArgs', () => {
  it('applies the defaults of the Rust sequencer', () => {
    expect(parseCliArgs([])).toEqual({
      help: false,
      host: '127.0.0.1',
      port: 8433,
      privateKey: undefined,
      batchMaxMessages: 50,
      batchMaxBytes: 1048576,
      flushIntervalMs: 5000,
      maxBodyBytes: 64 * 1024 * 1024,
      gcsDirectory: undefined,
      gcsPrefix: 'sequencer',
      app: false,
      appDb: undefined,
      rate: 5,
      transactions: 0,
      seed: 1,
      snapshotEvery: 100,
      schemaChangeEvery: 0,
      changesetsPerRequest: 1,
    });
  });

  it('parses every flag', () => {
    const config = parseCliArgs([
      '--host=0.0.0.0',
      '-p',
      '9000',
      '--batch-max-messages',
      '10',
      '--flush-interval-ms',
      '1000',
      '--gcs-dir',
      '/tmp/x',
      '--app',
      '--rate',
      '2.5',
      '--transactions',
      '20',
      '--seed',
      '9',
      '--schema-change-every',
      '7',
    ]);
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      batchMaxMessages: 10,
      flushIntervalMs: 1000,
      gcsDirectory: '/tmp/x',
      app: true,
      rate: 2.5,
      transactions: 20,
      seed: 9,
      schemaChangeEvery: 7,
    });
  });

  it.each([
    [['--port', '70000'], /--port/],
    [['--port', '-1'], /--port/],
    [['--batch-max-messages', '0'], /--batch-max-messages/],
    [['--rate', '0'], /--rate/],
    [['--rate', 'fast'], /--rate/],
    [['--bogus'], /bogus/],
    [['positional'], /positional|argument/i],
  ])('rejects %j', (args, pattern) => {
    expect(() => parseCliArgs(args)).toThrow(
      expect.objectContaining({ code: 'DEVNET_CONFIG', message: expect.stringMatching(pattern) }),
    );
  });

  it('documents every flag in --help', () => {
    const help = cliHelp();
    for (const name of Object.keys(CLI_OPTIONS)) expect(help).toContain(`--${name}`);
    expect(parseCliArgs(['--help']).help).toBe(true);
    expect(parseCliArgs(['--', '--help']).help).toBe(true);
  });
});

describe('runDevnet', () => {
  it('starts the sequencer and the sample app, whose traffic reaches storage', async () => {
    const dir = tempDir('synddb-devnet-cli-');
    const lines: string[] = [];
    const devnet = await runDevnet(
      {
        ...parseCliArgs([
          '--port',
          '0',
          '--app',
          '--transactions',
          '12',
          '--rate',
          '1000',
          '--flush-interval-ms',
          '50',
        ]),
        appDb: join(dir, 'app.db'),
        gcsDirectory: dir,
      },
      (line) => lines.push(line),
    );
    onCleanup(() => devnet.stop());
    const summary = await devnet.workload;
    expect(summary?.transactions).toBe(12);
    expect(lines.join('\n')).toContain(`SEQUENCER_PUBKEY=${devnet.sequencer.pubkeyHex}`);
    expect(lines.join('\n')).toContain(devnet.url);

    await devnet.stop();
    const batches = devnet.sequencer.storage.list();
    expect(batches.at(-1)?.endSequence).toBe(devnet.sequencer.sequencer.nextSequence - 1n);
    expect(devnet.app?.sent[0]?.kind).toBe('snapshot');
  });
});
