import { type ErrorKind, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BatchListingMismatchError,
  BatchUnavailableError,
  InsufficientDiskSpaceError,
  SequenceGapError,
  UnexpectedSequenceError,
  UntrustedSignerError,
} from './errors';
import * as sync from './index';
import { PreparePoolError } from './prepare-pool';
import { RemoteError } from './remote-error';
import { RuleConfigError } from './sql-rule';
import { RuleViolationError } from './validation-rule';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    SequenceGapError: {
      make: () => new SequenceGapError(3n, 7n, 1),
      code: 'SEQUENCE_GAP',
      kind: 'gap',
    },
    BatchUnavailableError: {
      make: () => new BatchUnavailableError('p', 3n),
      code: 'BATCH_UNAVAILABLE',
      kind: 'storage',
    },
    BatchListingMismatchError: {
      make: () => new BatchListingMismatchError({ start: 0n, end: 9n }, { start: 0n, end: 8n }),
      code: 'BATCH_LISTING_MISMATCH',
      kind: 'decode',
    },
    UntrustedSignerError: {
      make: () => new UntrustedSignerError('ab'),
      code: 'UNTRUSTED_SIGNER',
      kind: 'verification',
    },
    UnexpectedSequenceError: {
      make: () => new UnexpectedSequenceError(4n, 5n),
      code: 'UNEXPECTED_SEQUENCE',
      kind: 'decode',
    },
    InsufficientDiskSpaceError: {
      make: () => new InsufficientDiskSpaceError('a snapshot image', '/data', 10, 5),
      code: 'INSUFFICIENT_DISK_SPACE',
      kind: 'unavailable',
    },
    PreparePoolError: {
      make: () => new PreparePoolError('the prepare pool is closed'),
      code: 'PREPARE_POOL',
      kind: 'internal',
    },
    RuleViolationError: {
      make: () => new RuleViolationError('no_negative', 4n, 'returned 1, expected 0'),
      code: 'RULE_VIOLATION',
      kind: 'rule',
    },
    RuleConfigError: {
      make: () => new RuleConfigError('rule x: sql must be a read-only query'),
      code: 'RULE_CONFIG',
      kind: 'config',
    },
    // Per instance: the code and kind of the error it was rebuilt from.
    RemoteError: {
      make: () =>
        new RemoteError({
          name: 'SequenceGapError',
          code: 'SEQUENCE_GAP',
          kind: 'gap',
          shortMessage: 'x',
          details: undefined,
        }),
      code: 'SEQUENCE_GAP',
      kind: 'gap',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(sync)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((sync as Record<string, unknown>)[name] as typeof Error);
    expect(name === 'RemoteError' || error.name === name).toBe(true);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });
});
