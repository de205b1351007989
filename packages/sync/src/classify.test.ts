import {
  BatchTooLargeError,
  FallbackExhaustedError,
  FsReadError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidResponseError,
} from '@synddb/fetchers';
import { describe, expect, it } from 'vitest';
import { classifyError, isTransient } from './classify';
import { BatchUnavailableError, SequenceGapError } from './errors';

describe('classifyError', () => {
  // One rule for every fetcher: whatever storage it reads, a failure to get the data is retried
  // gapRetryCount times before it is reported.
  it.each([
    ['http status', new HttpStatusError('u', 503)],
    ['http transport', new HttpTransportError('u', 4, true, new Error('terminated'))],
    ['gcs', new GcsRequestError('download gs://b/o', new HttpStatusError('u', 429))],
    ['fs', new FsReadError('/data/x', new Error('EIO'))],
    ['fallback', new FallbackExhaustedError('getBatch(0)', [{ kind: 'gcs', error: 'x' }])],
    ['a malformed listing', new InvalidResponseError('GCS list', 'page is not JSON')],
    ['a listed batch that is not served', new BatchUnavailableError('p', 0n)],
    ['fetch failed', new TypeError('fetch failed')],
  ])('%s is a transient storage failure', (_label, error) => {
    const { kind } = classifyError(error);
    expect(kind).toBe('storage');
    expect(isTransient(kind)).toBe(true);
  });

  it('a gap is transient; an oversized batch is not (it halts at once)', () => {
    expect(classifyError(new SequenceGapError(1n, 3n, 1)).kind).toBe('gap');
    expect(isTransient(classifyError(new BatchTooLargeError('x', 10, 11)).kind)).toBe(false);
  });
});
