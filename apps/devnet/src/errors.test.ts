import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BatchMirrorError,
  DevnetConfigError,
  IngestRequestError,
  SampleAppError,
  SequencerResponseError,
  SequencerStoppedError,
  UnknownBatchError,
} from './errors';
import * as devnet from './index';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    DevnetConfigError: {
      make: () => new DevnetConfigError('port out of range'),
      code: 'DEVNET_CONFIG',
      kind: 'config',
    },
    IngestRequestError: {
      make: () => new IngestRequestError(400, 'request_id must not be empty'),
      code: 'DEVNET_INVALID_REQUEST',
      kind: 'input',
    },
    SequencerStoppedError: {
      make: () => new SequencerStoppedError(),
      code: 'DEVNET_SEQUENCER_STOPPED',
      kind: 'aborted',
    },
    UnknownBatchError: {
      make: () => new UnknownBatchError(7n),
      code: 'DEVNET_UNKNOWN_BATCH',
      kind: 'input',
    },
    BatchMirrorError: {
      make: () => new BatchMirrorError('cannot write /b', { cause: new Error('ENOSPC') }),
      code: 'DEVNET_BATCH_MIRROR',
      kind: 'storage',
    },
    SequencerResponseError: {
      make: () => new SequencerResponseError('/changesets', 503, 'busy'),
      code: 'DEVNET_SEQUENCER_RESPONSE',
      kind: 'storage',
    },
    SampleAppError: {
      make: () => new SampleAppError('account 3 does not exist'),
      code: 'DEVNET_SAMPLE_APP',
      kind: 'input',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(devnet)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((devnet as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });

  it('a mirror error carries its cause in details', () => {
    expect(new BatchMirrorError('cannot write /b', { cause: new Error('ENOSPC') }).details).toBe(
      'ENOSPC',
    );
  });
});
