import { createLogger } from '@synddb/app-kit';
import { startTestSequencer } from '@synddb/devnet';
import { onCleanup } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import type { ValidatorConfigInput } from './config/config-schema';
import { resolveValidatorConfig } from './config/parse-config';
import { ValidatorConfigError, ValidatorStartupError } from './errors';
import { createStorage, resolveSequencerPubkey } from './storage';

const PUBKEY =
  '8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    json: true,
    level: 'debug',
    write: (l) => lines.push(JSON.parse(l)),
  });
  return { logger, lines };
}

describe('createStorage', () => {
  const { logger } = captureLogger();
  const storageFor = (input: ValidatorConfigInput) =>
    createStorage(resolveValidatorConfig({ sequencerPubkey: PUBKEY, ...input }), logger);

  it('picks http, gcs, fs, and the sequencer as fallback', async () => {
    expect((await storageFor({ sequencerUrl: 'http://127.0.0.1:9/' })).description).toBe(
      'http http://127.0.0.1:9',
    );
    expect((await storageFor({ sequencerUrl: 'http://127.0.0.1:9/' })).fetcher.kind).toBe('http');
    const gcs = await storageFor({ gcsBucket: 'b', gcsStorageEmulatorHost: '127.0.0.1:4443' });
    expect(gcs.description).toBe('gcs gs://b/sequencer');
    expect(gcs.fetcher.kind).toBe('gcs');
    const both = await storageFor({ gcsBucket: 'b', sequencerUrl: 'http://127.0.0.1:9' });
    expect(both.description).toBe('gcs gs://b/sequencer, fallback http http://127.0.0.1:9');
    expect(both.fetcher.kind).toBe('fallback');
    const fs = await storageFor({ storageDir: '/tmp/x', gcsPrefix: 'p' });
    expect(fs.description).toBe('fs /tmp/x (prefix p)');
    const forced = await storageFor({
      fetcherType: 'http',
      gcsBucket: 'b',
      sequencerUrl: 'http://127.0.0.1:9',
    });
    expect(forced.fetcher.kind).toBe('http');
  });

  it('reports a fetcher configuration error as a config error', async () => {
    await expect(
      storageFor({ gcsBucket: 'b', gcsStorageEmulatorHost: 'ftp://x' }),
    ).rejects.toBeInstanceOf(ValidatorConfigError);
  });

  it('reads from a real devnet sequencer through the configured fetcher', async () => {
    const { url } = await startTestSequencer({ flushIntervalMs: 50, onCleanup });
    const storage = await storageFor({ sequencerUrl: url });
    expect(await storage.fetcher.listBatches()).toEqual([]);
    expect(await storage.fetcher.getLatestSequence()).toBeNull();
  });
});

describe('resolveSequencerPubkey', () => {
  it('uses SEQUENCER_PUBKEY without asking the sequencer', async () => {
    const { logger, lines } = captureLogger();
    const config = resolveValidatorConfig({
      sequencerPubkey: `0x${PUBKEY}`,
      sequencerUrl: 'http://127.0.0.1:9',
    });
    const key = await resolveSequencerPubkey(config, logger);
    expect(Buffer.from(key).toString('hex')).toBe(PUBKEY);
    expect(lines).toEqual([]);
  });

  it('discovers the key from /status with a loud warning (trust on first use)', async () => {
    const sequencer = await startTestSequencer({ onCleanup });
    const { url } = sequencer;
    const { logger, lines } = captureLogger();
    const key = await resolveSequencerPubkey(resolveValidatorConfig({ sequencerUrl: url }), logger);
    const hex = Buffer.from(key).toString('hex');
    expect(`0x${hex}`).toBe(
      sequencer.pubkeyHex.startsWith('0x') ? sequencer.pubkeyHex : `0x${sequencer.pubkeyHex}`,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      url: `${url}/status`,
      pubkey: `0x${hex}`,
      pin: `SEQUENCER_PUBKEY=0x${hex}`,
    });
    expect(String(lines[0]!.msg)).toMatch(/trust on first use/);
    expect(String(lines[0]!.address)).toMatch(/^0x[0-9a-f]{40}$/);
  });

  it('fails with ValidatorStartupError when discovery fails', async () => {
    const sequencer = await startTestSequencer({ onCleanup });
    const { url } = sequencer;
    await sequencer.stop(); // nothing listens there any more
    const { logger } = captureLogger();
    const config = resolveValidatorConfig({
      sequencerUrl: url,
      httpFetcherMaxRetries: 0,
      httpFetcherTimeout: '2s',
    });
    const error = await resolveSequencerPubkey(config, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidatorStartupError);
    expect((error as Error).message).toContain(`could not be discovered from ${url}/status`);
  });
});
