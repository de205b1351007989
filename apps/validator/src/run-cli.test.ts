import { createServer } from 'node:net';
import { join } from 'node:path';
import { type StartedSequencer, startTestSequencer } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { listOptions } from './config/parse-config';
import { type CliProcess, runCli } from './run-cli';
import type { ValidatorHandle } from './start-validator';

function fakeProcess(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const listeners = new Set<(s: 'SIGINT' | 'SIGTERM') => void>();
  const exits: number[] = [];
  let started: (h: ValidatorHandle) => void = () => {};
  const startedPromise = new Promise<ValidatorHandle>((resolve) => {
    started = resolve;
  });
  const proc: CliProcess = {
    argv,
    env,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    onSignal: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    exit: (code) => exits.push(code),
    onStarted: (h) => started(h),
  };
  return {
    proc,
    out,
    err,
    exits,
    started: startedPromise,
    signal: (s: 'SIGINT' | 'SIGTERM') => {
      for (const l of [...listeners]) l(s);
    },
    listenerCount: () => listeners.size,
  };
}

function tempDb() {
  return join(tempDir('validator-cli-'), 'data', 'replica.db');
}

async function devnet(): Promise<{ sequencer: StartedSequencer; url: string }> {
  const sequencer = await startTestSequencer({ flushIntervalMs: 50, onCleanup });
  return { sequencer, url: sequencer.url };
}

describe('runCli', () => {
  it('prints --help listing every option and exits 0', async () => {
    const p = fakeProcess(['--help']);
    expect(await runCli(p.proc)).toBe(0);
    const help = p.out.join('');
    for (const o of listOptions()) {
      expect(help).toContain(`--${o.meta.flag}`);
      expect(help).toContain(o.meta.env);
    }
  });

  it('prints the version', async () => {
    const p = fakeProcess(['--version']);
    expect(await runCli(p.proc)).toBe(0);
    expect(p.out.join('')).toMatch(/^synddb-validator \d+\.\d+\.\d+\n$/);
  });

  it('exits 2 on an invalid configuration, naming the flag and env var', async () => {
    const p = fakeProcess(['--sync-interval', 'soon'], { SEQUENCER_URL: 'http://127.0.0.1:9' });
    expect(await runCli(p.proc)).toBe(2);
    const message = p.err.join('');
    expect(message).toContain('--sync-interval / SYNC_INTERVAL (--sync-interval="soon")');
    expect(message).toContain('--help');
    expect(p.out).toEqual([]);
    expect(p.listenerCount()).toBe(0);
  });

  it('exits 1 when the key cannot be discovered', async () => {
    const p = fakeProcess(['--http-fetcher-max-retries', '0', '--log-json'], {
      SEQUENCER_URL: 'http://127.0.0.1:9',
      DATABASE_PATH: tempDb(),
    });
    expect(await runCli(p.proc)).toBe(1);
    const lines = p.out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ level: 'error', msg: 'startup failed' });
    expect(JSON.stringify(lines.at(-1))).toContain('VALIDATOR_STARTUP');
  });

  it('exits 1 when the bind address is taken', async () => {
    const { url, sequencer } = await devnet();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    onCleanup(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const p = fakeProcess(['--bind-address', `127.0.0.1:${port}`, '--log-json'], {
      SEQUENCER_URL: url,
      SEQUENCER_PUBKEY: sequencer.pubkeyHex,
      DATABASE_PATH: tempDb(),
    });
    expect(await runCli(p.proc)).toBe(1);
    expect(p.out.join('')).toContain('HTTP_API_LISTEN');
  });

  it('serves, stops gracefully on SIGTERM with exit 0, and exits at once on a second signal', async () => {
    const { url, sequencer } = await devnet();
    const p = fakeProcess(['--bind-address', '127.0.0.1:0', '--sync-interval', '50ms'], {
      SEQUENCER_URL: url,
      SEQUENCER_PUBKEY: sequencer.pubkeyHex,
      DATABASE_PATH: tempDb(),
      LOG_JSON: 'true',
      SHUTDOWN_TIMEOUT: '5s',
    });
    const exit = runCli(p.proc);
    const handle = await p.started;
    const health = await fetch(`${handle.url}/health`);
    expect(health.status).toBe(200);
    // An empty sequencer: caught up at once, so ready.
    await waitFor(async () => (await fetch(`${handle.url}/ready`)).status === 200, 'ready');
    p.signal('SIGTERM');
    p.signal('SIGINT');
    expect(await exit).toBe(0);
    expect(p.exits).toEqual([130]);
    expect(handle.db.open).toBe(false);
    await expect(fetch(`${handle.url}/health`)).rejects.toThrow();
    const messages = p.out
      .join('')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(
      expect.arrayContaining([
        'synddb-validator started',
        'shutdown requested',
        'second signal: exiting immediately',
        'synddb-validator stopped',
      ]),
    );
  });
});
