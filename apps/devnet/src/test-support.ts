import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import {
  createDevnetSequencer,
  type DevnetSequencer,
  type DevnetSequencerOptions,
} from './sequencer/create-devnet-sequencer';
import { TEST_SEQUENCER_KEY } from './testing/start-devnet-with-app';

/** Anvil account 0, the key of the upstream tests (docs/protocol.md#test-keys). */
export const ANVIL0_KEY = TEST_SEQUENCER_KEY;
export const ANVIL0_PUBKEY =
  '8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A sequencer listening on 127.0.0.1 (ephemeral port), stopped after the test. */
export async function startSequencer(
  options: DevnetSequencerOptions = {},
): Promise<DevnetSequencer & { url: string }> {
  const sequencer = createDevnetSequencer({ privateKey: ANVIL0_KEY, ...options });
  await sequencer.start();
  cleanups.push(() => sequencer.stop());
  // `url` is set once started.
  return sequencer as DevnetSequencer & { url: string };
}

/** A temp directory removed after the test. */
export function tempDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'synddb-devnet-test-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Registers a cleanup to run after the current test. */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

export function postCbor(
  url: string,
  body: Uint8Array,
  contentType = 'application/cbor',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}
