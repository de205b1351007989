import { onCleanup } from '@synddb/test-support';
import type { DevnetSequencerOptions } from './sequencer/create-devnet-sequencer';
import {
  type StartedSequencer,
  startTestSequencer,
  TEST_SEQUENCER_KEY,
} from './testing/start-test-sequencer';

/** Anvil account 0, the key of the upstream tests (docs/protocol.md#test-keys). */
export const ANVIL0_KEY = TEST_SEQUENCER_KEY;
export const ANVIL0_PUBKEY =
  '8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5';

/** A sequencer listening on 127.0.0.1 (ephemeral port), stopped after the test. */
export function startSequencer(options: DevnetSequencerOptions = {}): Promise<StartedSequencer> {
  return startTestSequencer({ ...options, onCleanup });
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
