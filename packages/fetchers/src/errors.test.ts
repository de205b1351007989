import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BatchOverlapError,
  BatchTooLargeError,
  FallbackExhaustedError,
  FetcherConfigError,
  FsReadError,
  FsWriteError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidBatchPathError,
  InvalidBatchRangeError,
  InvalidResponseError,
  ResponseTooLargeError,
  retryAfterOf,
} from './errors';
import * as fetchers from './index';

const range = (start: bigint, end: bigint, path: string) => ({
  startSequence: start,
  endSequence: end,
  path,
});

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    FetcherConfigError: {
      make: () => new FetcherConfigError('baseUrl is not a URL'),
      code: 'FETCHER_CONFIG',
      kind: 'config',
    },
    BatchTooLargeError: {
      make: () => new BatchTooLargeError('b', 10, 11),
      code: 'BATCH_TOO_LARGE',
      kind: 'decode',
    },
    ResponseTooLargeError: {
      make: () => new ResponseTooLargeError('u', 10),
      code: 'RESPONSE_TOO_LARGE',
      kind: 'decode',
    },
    InvalidResponseError: {
      make: () => new InvalidResponseError('GCS list', 'page is not JSON'),
      code: 'INVALID_RESPONSE',
      kind: 'storage',
    },
    HttpStatusError: {
      make: () => new HttpStatusError('u', 503),
      code: 'HTTP_STATUS',
      kind: 'storage',
    },
    HttpTransportError: {
      make: () => new HttpTransportError('u', 4, true, new Error('terminated')),
      code: 'HTTP_TRANSPORT',
      kind: 'storage',
    },
    GcsRequestError: {
      make: () => new GcsRequestError('list', new HttpStatusError('u', 429)),
      code: 'GCS_REQUEST',
      kind: 'storage',
    },
    FsReadError: {
      make: () => new FsReadError('/d', new Error('EIO')),
      code: 'FS_READ',
      kind: 'storage',
    },
    FsWriteError: {
      make: () => new FsWriteError('/d', new Error('ENOSPC')),
      code: 'FS_WRITE',
      kind: 'storage',
    },
    InvalidBatchPathError: {
      make: () => new InvalidBatchPathError('../x', 'outside the folder'),
      code: 'INVALID_BATCH_PATH',
      kind: 'decode',
    },
    BatchOverlapError: {
      make: () => new BatchOverlapError(range(0n, 9n, 'a'), range(5n, 12n, 'b')),
      code: 'BATCH_OVERLAP',
      kind: 'decode',
    },
    InvalidBatchRangeError: {
      make: () => new InvalidBatchRangeError(9n, 1n, 'p'),
      code: 'INVALID_BATCH_RANGE',
      kind: 'decode',
    },
    FallbackExhaustedError: {
      make: () => new FallbackExhaustedError('getBatch(0)', [{ kind: 'gcs', error: 'x' }]),
      code: 'FALLBACK_EXHAUSTED',
      kind: 'storage',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(fetchers)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((fetchers as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });
});

describe('details from the cause', () => {
  it('transport and fs errors carry the cause message', () => {
    expect(new HttpTransportError('u', 1, false, new TypeError('fetch failed')).details).toBe(
      'fetch failed',
    );
    expect(new FsReadError('/d', new Error('EIO: i/o error')).details).toBe('EIO: i/o error');
    expect(new FsWriteError('/d', 'ENOSPC').details).toBe('ENOSPC');
  });

  it("a GCS error carries its transport error's short message and details", () => {
    const transport = new HttpTransportError('https://gcs/o', 4, true, new Error('aborted'));
    const error = new GcsRequestError('download gs://b/o', transport);
    expect(error.details).toBe('GET https://gcs/o failed after 4 attempts (timeout): aborted');
    expect(error.walk()).toBeInstanceOf(Error);
    const status = new GcsRequestError('list', new HttpStatusError('u', 503, 'busy', 1500));
    expect(status.shortMessage).toBe('GCS list failed (HTTP 503)');
    expect(status.details).toBe('GET u returned HTTP 503: body: busy; retry after 1500 ms');
  });

  it('retryAfterOf reads the first error in the chain that has the field', () => {
    const asked = new HttpStatusError('u', 429, '', 2000);
    expect(retryAfterOf(new GcsRequestError('list', asked))).toBe(2000);
    expect(retryAfterOf(new Error('wrapper', { cause: asked }))).toBe(2000);
    // A fallback whose sources did not all ask decides (undefined) before its cause does.
    const fallback = new FallbackExhaustedError('list', [
      { kind: 'gcs', error: asked },
      { kind: 'http', error: new Error('down') },
    ]);
    expect(retryAfterOf(fallback)).toBeUndefined();
    expect(retryAfterOf('text')).toBeUndefined();
  });
});
