import { FetcherConfigError } from './errors';

/** Default cap on one downloaded (compressed) batch blob: 64 MiB. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024;

/** Default cap on one JSON response body (batch listing, message, status): 64 MiB. */
export const DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Default GCS listing page size (the JSON API's maximum is 1000). */
export const DEFAULT_GCS_PAGE_SIZE = 1000;

/** Checks an integer option: a safe integer in [min, max]. */
export function checkIntegerOption(
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new FetcherConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}
