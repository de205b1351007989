import { InvalidResponseError } from '../errors';
import { parseJsonExact } from '../json/parse-json-exact';
import { type SequencerStatus, sequencerStatusFromJson } from '../json/storage-responses';
import type { FetchCallOptions } from '../types';
import { getJsonText, type HttpFetcherOptions, resolveHttpSettings } from './create-http-fetcher';

export type FetchSequencerStatusOptions = Omit<HttpFetcherOptions, 'baseUrl' | 'maxBatchBytes'> &
  FetchCallOptions;

/**
 * `GET {baseUrl}/status` (pubkey discovery when no key is configured). The address is checked
 * against the pubkey; the key itself is only as trustworthy as the connection to the sequencer.
 */
export async function fetchSequencerStatus(
  baseUrl: string,
  options: FetchSequencerStatusOptions = {},
): Promise<SequencerStatus> {
  const { signal, ...rest } = options;
  const settings = resolveHttpSettings({ ...rest, baseUrl });
  const text = await getJsonText(settings, '/status', signal);
  if (text === null)
    throw new InvalidResponseError('GET /status', 'the sequencer has no /status route (404)');
  return sequencerStatusFromJson(parseJsonExact(text, 'GET /status'), 'GET /status');
}
