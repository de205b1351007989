/**
 * End to end: the devnet sequencer and sample app in-process, a validator synced to it, the
 * replica compared with the app's own database. Needs working @synddb/sync and @synddb/applier.
 */
import { join } from 'node:path';
import { type DevnetWithApp, digestDatabase, startDevnetWithApp } from '@synddb/devnet';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { type CliProcess, runCli } from '../src/run-cli';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

/** The devnet sequencer and sample app, optionally mirroring batches to `{directory}/bucket`. */
async function startDevnet(options: { gcsDirectory?: boolean } = {}): Promise<DevnetWithApp> {
  const directory = tempDir('validator-e2e-');
  return startDevnetWithApp({
    directory,
    onCleanup,
    sequencer: options.gcsDirectory ? { storage: { gcsDirectory: join(directory, 'bucket') } } : {},
  });
}

/** The highest sequence the sequencer assigned (its `/status` reports the next one). */
async function sequencerHead(url: string): Promise<number> {
  const status = (await (await fetch(`${url}/status`)).json()) as { current_sequence: number };
  return status.current_sequence - 1;
}

const statusText = (validator: ValidatorHandle) => () =>
  JSON.stringify(validator.status(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

async function waitUntilCaughtUp(validator: ValidatorHandle, head: number): Promise<void> {
  await waitFor(() => validator.status().lastSequence === BigInt(head) && validator.syncedOnce, {
    what: () => `sequence ${head} (status ${statusText(validator)()})`,
  });
}

const quietLogger = () => {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>),
  };
};

describe('validator against the devnet sequencer', { timeout: 60_000 }, () => {
  it('syncs sample-app traffic into a replica equal to the source, then stops cleanly', async () => {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 120, seed: 42, snapshotEvery: 50 });
    devnet.sequencer.flush();
    const head = await sequencerHead(devnet.url);
    expect(head).toBeGreaterThan(100);

    const databasePath = join(devnet.directory, 'replica', 'validator.db');
    const { createLogger } = await import('@synddb/app-kit');
    const log = quietLogger();
    const validator = await startValidator(
      {
        sequencerUrl: devnet.url,
        sequencerPubkey: devnet.sequencer.pubkeyHex,
        databasePath,
        bindAddress: '127.0.0.1:0',
        syncInterval: '50ms',
        batchIndexRefreshInterval: '200ms',
        progressInterval: '10ms',
        maxLag: 0,
      },
      { logger: createLogger({ json: true, level: 'debug', write: log.write }) },
    );
    let stopped = false;
    onCleanup(async () => {
      if (!stopped) await validator.stop();
    });
    await waitUntilCaughtUp(validator, head);

    const ready = await fetch(`${validator.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', running: true, reasons: [] });
    const status = (await (await fetch(`${validator.url}/status`)).json()) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({
      running: true,
      last_sequence: head,
      next_sequence: head + 1,
      head_sequence: head,
      lag_sequences: 0,
      halt: null,
      skipped_gaps: [],
      synced_once: true,
      ready: true,
    });
    expect(status.last_sync_time).toBeGreaterThan(0);

    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    const applied = [...metrics.matchAll(/^synddb_messages_applied_total\{type="\w+"\} (\d+)$/gm)]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);
    expect(applied).toBe(head + 1);
    expect(metrics).toMatch(new RegExp(`^synddb_validator_last_sequence ${head}$`, 'm'));
    expect(metrics).toMatch(/^synddb_snapshots_applied_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^synddb_validator_batches_synced_total [1-9]\d*$/m);

    // Stop (what SIGTERM does), then compare with node:sqlite once better-sqlite3 let go.
    await validator.stop();
    stopped = true;
    expect(validator.db.open).toBe(false);
    const replica = digestDatabase(databasePath);
    const source = digestDatabase(devnet.app.dbPath);
    expect(replica.tables.map((t) => [t.name, t.rowCount])).toEqual(
      source.tables.map((t) => [t.name, t.rowCount]),
    );
    expect(replica.digest).toBe(source.digest);
    expect(log.lines.some((l) => l.msg === 'caught up with storage')).toBe(true);
  });

  it('resumes after a restart without re-applying, and follows new traffic', async () => {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 40, seed: 3, snapshotEvery: 0 });
    devnet.sequencer.flush();
    const databasePath = join(devnet.directory, 'replica.db');
    const { createLogger } = await import('@synddb/app-kit');
    const config = {
      sequencerUrl: devnet.url,
      databasePath,
      bindAddress: '127.0.0.1:0',
      syncInterval: '50ms',
      batchIndexRefreshInterval: '200ms',
    };
    const logger = createLogger({ json: true, write: quietLogger().write });

    // No SEQUENCER_PUBKEY: discovered from /status.
    const first = await startValidator(config, { logger });
    await waitUntilCaughtUp(first, await sequencerHead(devnet.url));
    await first.stop();

    const second = await startValidator(config, { logger });
    onCleanup(() => second.stop());
    const head = await sequencerHead(devnet.url);
    await waitFor(() => second.syncedOnce, { what: statusText(second) });
    expect(second.status().lastSequence).toBe(BigInt(head));
    expect(second.status().messagesApplied).toBe(0);

    await devnet.app.runWorkload({ transactions: 15, seed: 4, snapshotEvery: 0 });
    devnet.sequencer.flush();
    const newHead = await sequencerHead(devnet.url);
    await waitUntilCaughtUp(second, newHead);
    expect(second.status().messagesApplied).toBe(newHead - head);
    await second.stop();
    expect(digestDatabase(databasePath).digest).toBe(digestDatabase(devnet.app.dbPath).digest);
  });

  it('syncs from the GCS-layout directory with the sequencer as fallback, via the CLI and SIGTERM', async () => {
    const devnet = await startDevnet({ gcsDirectory: true });
    await devnet.app.runWorkload({ transactions: 30, seed: 9, snapshotEvery: 10 });
    devnet.sequencer.flush();
    const head = await sequencerHead(devnet.url);
    const databasePath = join(devnet.directory, 'cli', 'replica.db');

    const out: string[] = [];
    const listeners = new Set<(s: 'SIGINT' | 'SIGTERM') => void>();
    let onStarted: (h: ValidatorHandle) => void = () => {};
    const started = new Promise<ValidatorHandle>((r) => {
      onStarted = r;
    });
    const proc: CliProcess = {
      argv: ['--storage-dir', join(devnet.directory, 'bucket'), '--bind-address', '127.0.0.1:0'],
      env: {
        SEQUENCER_URL: devnet.url,
        SEQUENCER_PUBKEY: devnet.sequencer.pubkeyHex,
        DATABASE_PATH: databasePath,
        SYNC_INTERVAL: '50ms',
        LOG_JSON: 'true',
      },
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      onSignal: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      exit: () => {
        throw new Error('no immediate exit expected');
      },
      onStarted: (h) => onStarted(h),
    };
    const exitCode = runCli(proc);
    const validator = await started;
    await waitUntilCaughtUp(validator, head);
    expect((await fetch(`${validator.url}/ready`)).status).toBe(200);
    for (const l of listeners) l('SIGTERM');
    expect(await exitCode).toBe(0);
    expect(out.join('')).toContain('"storage":"fs ');
    expect(digestDatabase(databasePath).digest).toBe(digestDatabase(devnet.app.dbPath).digest);
  });
});
