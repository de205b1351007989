import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSampleApp, type SampleApp } from '../sample-app/create-sample-app';
import type { WorkloadSummary } from '../sample-app/workload';
import { createDevnetSequencer, type DevnetSequencer } from '../sequencer/create-devnet-sequencer';
import type { DevnetCliConfig } from './parse-cli-args';

export interface RunningDevnet {
  sequencer: DevnetSequencer;
  url: string;
  app: SampleApp | undefined;
  /** Settles when the sample-app workload ends (at once without `--app`). */
  workload: Promise<WorkloadSummary | undefined>;
  /** Stops the workload, flushes and closes everything. */
  stop(): Promise<void>;
}

/** Starts what `synddb-devnet` runs: the sequencer and, with `app`, the sample app's traffic. */
export async function runDevnet(
  config: DevnetCliConfig,
  log: (line: string) => void = console.log,
): Promise<RunningDevnet> {
  const sequencer = createDevnetSequencer({
    ...(config.privateKey === undefined ? {} : { privateKey: config.privateKey }),
    batchMaxMessages: config.batchMaxMessages,
    batchMaxBytes: config.batchMaxBytes,
    flushIntervalMs: config.flushIntervalMs,
    maxBodyBytes: config.maxBodyBytes,
    storage: {
      ...(config.gcsDirectory === undefined ? {} : { gcsDirectory: config.gcsDirectory }),
      prefix: config.gcsPrefix,
    },
  });
  const { url } = await sequencer.start({ host: config.host, port: config.port });
  log(`sequencer       ${url}`);
  log(`signer pubkey   ${sequencer.pubkeyHex}`);
  log(`signer address  ${sequencer.signer.address}`);
  log(`storage API     ${url}/storage/batches`);
  if (sequencer.batchesDirectory !== undefined)
    log(`GCS layout      ${sequencer.batchesDirectory}`);
  log(`validator env   SEQUENCER_URL=${url} SEQUENCER_PUBKEY=${sequencer.pubkeyHex}`);

  let app: SampleApp | undefined;
  let tempDir: string | undefined;
  const abort = new AbortController();
  let workload: Promise<WorkloadSummary | undefined> = Promise.resolve(undefined);
  if (config.app) {
    if (config.appDb === undefined) tempDir = mkdtempSync(join(tmpdir(), 'synddb-devnet-app-'));
    const dbPath = config.appDb ?? join(tempDir as string, 'app.db');
    const sampleApp = createSampleApp({
      sequencerUrl: url,
      dbPath,
      changesetsPerRequest: config.changesetsPerRequest,
      // Ids (and the random bytes stored in rows) follow the seed too: a run is reproducible.
      idSeed: config.seed,
      ...(config.relayerUrl === undefined
        ? {}
        : {
            relayerUrl: config.relayerUrl,
            onRelayerError: (messageId: string, error: string) =>
              log(`relayer refused ${messageId}: ${error}`),
          }),
    });
    if (config.relayerUrl !== undefined) log(`relayer         ${config.relayerUrl}`);
    app = sampleApp;
    log(`sample app db   ${dbPath}`);
    await sampleApp.start();
    workload = sampleApp
      .runWorkload({
        transactions: config.transactions === 0 ? Number.MAX_SAFE_INTEGER : config.transactions,
        seed: config.seed,
        snapshotEvery: config.snapshotEvery,
        schemaChangeEvery: config.schemaChangeEvery,
        delayMs: 1000 / config.rate,
        signal: abort.signal,
      })
      .then((summary) => {
        log(
          `sample app done: ${summary.transactions} transactions, ${summary.snapshots} snapshots, ${summary.schemaChanges} schema changes`,
        );
        return summary;
      });
  }

  let stopping: Promise<void> | undefined;
  return {
    sequencer,
    url,
    app,
    workload,
    stop() {
      stopping ??= (async () => {
        abort.abort();
        await workload.catch(() => undefined);
        await sequencer.stop();
        app?.close();
        if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
