import { join } from 'node:path';
import { createSampleApp, type SampleApp } from '../sample-app/create-sample-app';
import type { DevnetSequencer, DevnetSequencerOptions } from '../sequencer/create-devnet-sequencer';
import { type RegisterCleanup, startTestSequencer } from './start-test-sequencer';

export interface DevnetWithApp {
  sequencer: DevnetSequencer;
  url: string;
  /** The sample app, its schema snapshot already sent; its database is `{directory}/source.db`. */
  app: SampleApp;
  directory: string;
}

export interface StartDevnetWithAppOptions {
  /** Where the sample app's database goes. */
  directory: string;
  /** Receives the teardown steps (stop the sequencer, close the app), e.g. `onCleanup`. */
  onCleanup: RegisterCleanup;
  /** Overrides of the test defaults (Anvil #0 key, 10-message batches, 50 ms flush). */
  sequencer?: DevnetSequencerOptions;
  /** Default 7, so the same workload seed gives the same rows. */
  idSeed?: number;
}

/**
 * What other packages' end-to-end tests start with: a devnet sequencer on 127.0.0.1 (ephemeral
 * port) with small, fast batches, and the sample app writing through it.
 */
export async function startDevnetWithApp(
  options: StartDevnetWithAppOptions,
): Promise<DevnetWithApp> {
  const sequencer = await startTestSequencer({
    batchMaxMessages: 10,
    flushIntervalMs: 50,
    onError: () => {},
    ...options.sequencer,
    onCleanup: options.onCleanup,
  });
  const { url } = sequencer;
  const app = createSampleApp({
    sequencerUrl: url,
    dbPath: join(options.directory, 'source.db'),
    idSeed: options.idSeed ?? 7,
  });
  options.onCleanup(() => app.close());
  await app.start();
  return { sequencer, url, app, directory: options.directory };
}
