import { readFileSync } from 'node:fs';
import { ChangesetConflictError, SchemaMismatchError } from '@synddb/applier';
import {
  BatchOverlapError,
  BatchTooLargeError,
  FallbackExhaustedError,
  FetcherConfigError,
  FsReadError,
  GcsRequestError,
  HttpStatusError,
  HttpTransportError,
  InvalidResponseError,
} from '@synddb/fetchers';
import {
  CborDecodeError,
  ContentHashMismatchError,
  DecompressionLimitError,
  ERROR_KINDS,
  type ErrorKind,
  HeaderMismatchError,
  SignedMessageJsonError,
  SyndDBError,
  ZstdUnavailableError,
} from '@synddb/protocol';
import { CursorConflictError, StateValueError } from '@synddb/state-store';
import {
  BatchSignatureError,
  MessageSignatureError,
  NonNormalizedHeaderError,
} from '@synddb/verifier';
import { describe, expect, it } from 'vitest';
import { classifyError, HALT_RULES, type HaltRule, isTransient } from './classify';
import {
  BatchListingMismatchError,
  BatchUnavailableError,
  SequenceGapError,
  UnexpectedSequenceError,
  UntrustedSignerError,
} from './errors';
import { FailureTracker } from './failure-tracker';
import { PreparePoolError } from './prepare-pool';
import { RemoteError, serializeError } from './remote-error';

/** The rules documented in the README (failures and retries), one row per error kind or kinds. */
function documentedRules(): Record<string, HaltRule> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('The rule for each kind is `HALT_RULES`'));
  const rules: Record<string, HaltRule> = {};
  for (const [, kinds, reported, ends, also] of table
    .slice(0, table.indexOf('\n\n', table.indexOf('| kind')))
    .matchAll(/^\| ((?:`\w+`(?:, )?)+) +\| (.+?) +\| (.+?) +\| (.*?) *\|$/gm)) {
    for (const kind of kinds!.matchAll(/`(\w+)`/g)) {
      rules[kind[1]!] = {
        retriedBeforeHalt: reported!.startsWith('after `gapRetryCount` retries'),
        endsWhenStorageAnswers: ends!.includes('when storage answers with nothing to apply'),
        signatureFailure: also!.includes('`signatureFailure`'),
      };
    }
  }
  return rules;
}

function tracker(gapRetryCount: number) {
  return new FailureTracker({
    gapRetryCount,
    retryInitialDelayMs: 100,
    gapRetryDelayMs: 1000,
    maxRetryAfterMs: 30_000,
    random: () => 1,
    now: () => 1_000,
  });
}

describe('HALT_RULES: the engine decides on the error kind', () => {
  it("has the README's rule for every error kind, and only those", () => {
    expect(Object.keys(HALT_RULES).sort()).toEqual(Object.keys(ERROR_KINDS).sort());
    expect(documentedRules()).toEqual(HALT_RULES);
  });

  it.each(Object.keys(ERROR_KINDS) as ErrorKind[])(
    '%s: the failure tracker follows the rule',
    (kind) => {
      const rule = HALT_RULES[kind];
      const failures = tracker(2);
      const error = new SyndDBError(`SOME_${kind.toUpperCase()}`, `a ${kind} failure`, { kind });
      // Reported at once, or on the failure after gapRetryCount retries.
      const halts = [1, 2, 3].map(() => failures.fail(error, 4n).newHalt !== null);
      expect(halts).toEqual(rule.retriedBeforeHalt ? [false, false, true] : [true, false, false]);
      expect(failures.halt).toMatchObject({
        code: `SOME_${kind.toUpperCase()}`,
        kind,
        sequence: 4n,
      });
      expect(isTransient(kind)).toBe(rule.retriedBeforeHalt);
      // Storage answering with nothing to apply ends only a storage or gap halt.
      expect(failures.caughtUp() !== null).toBe(rule.endsWhenStorageAnswers);
      expect(failures.halt === null).toBe(rule.endsWhenStorageAnswers);
      // A commit ends any halt.
      failures.fail(error, 5n);
      failures.fail(error, 5n);
      failures.fail(error, 5n);
      expect(failures.progressed()?.kind).toBe(kind);
      expect(failures.halt).toBeNull();
    },
  );
});

describe('classifyError', () => {
  // Every error the engine meets, with the kind it is reported as. No code is matched by name.
  const cases: [string, unknown, string, ErrorKind][] = [
    ['http status', new HttpStatusError('u', 503), 'HTTP_STATUS', 'storage'],
    [
      'http transport',
      new HttpTransportError('u', 4, true, new Error('terminated')),
      'HTTP_TRANSPORT',
      'storage',
    ],
    [
      'gcs',
      new GcsRequestError('download gs://b/o', new HttpStatusError('u', 429)),
      'GCS_REQUEST',
      'storage',
    ],
    ['fs', new FsReadError('/data/x', new Error('EIO')), 'FS_READ', 'storage'],
    [
      'fallback',
      new FallbackExhaustedError('getBatch(0)', [{ kind: 'gcs', error: 'x' }]),
      'FALLBACK_EXHAUSTED',
      'storage',
    ],
    [
      'a malformed listing',
      new InvalidResponseError('GCS list', 'page is not JSON'),
      'INVALID_RESPONSE',
      'storage',
    ],
    [
      'a listed batch that is not served',
      new BatchUnavailableError('p', 0n),
      'BATCH_UNAVAILABLE',
      'storage',
    ],
    ['a gap', new SequenceGapError(1n, 3n, 1), 'SEQUENCE_GAP', 'gap'],
    [
      'a bad batch signature',
      new BatchSignatureError(0n, 9n),
      'BATCH_SIGNATURE_INVALID',
      'verification',
    ],
    [
      'a bad message signature',
      new MessageSignatureError(3n),
      'MESSAGE_SIGNATURE_INVALID',
      'verification',
    ],
    ['an untrusted signer', new UntrustedSignerError('ab'), 'UNTRUSTED_SIGNER', 'verification'],
    [
      'tampered content',
      new ContentHashMismatchError('aa', 'bb'),
      'CONTENT_HASH_MISMATCH',
      'verification',
    ],
    [
      'outer fields that differ from the header',
      new HeaderMismatchError('sequence', '1', '2'),
      'HEADER_MISMATCH',
      'verification',
    ],
    [
      'a header coset would not re-encode',
      new NonNormalizedHeaderError(3n),
      'PROTECTED_HEADER_NOT_NORMALIZED',
      'verification',
    ],
    [
      'malformed CBOR',
      new CborDecodeError('reserved additional information 28', 0),
      'CBOR_DECODE',
      'decode',
    ],
    ['a zstd bomb', new DecompressionLimitError(10, 'frame 0'), 'DECOMPRESSION_LIMIT', 'decode'],
    ['an oversized batch', new BatchTooLargeError('x', 10, 11), 'BATCH_TOO_LARGE', 'decode'],
    [
      'a message JSON of the wrong shape',
      new SignedMessageJsonError('not an object'),
      'SIGNED_MESSAGE_JSON',
      'decode',
    ],
    [
      'a batch unlike its listing',
      new BatchListingMismatchError({ start: 0n, end: 9n }, { start: 0n, end: 8n }),
      'BATCH_LISTING_MISMATCH',
      'decode',
    ],
    [
      'another sequence than requested',
      new UnexpectedSequenceError(4n, 5n),
      'UNEXPECTED_SEQUENCE',
      'decode',
    ],
    [
      'overlapping batches',
      new BatchOverlapError(
        { startSequence: 0n, endSequence: 9n, path: 'a' },
        { startSequence: 5n, endSequence: 12n, path: 'b' },
      ),
      'BATCH_OVERLAP',
      'decode',
    ],
    [
      'a changeset conflict',
      new ChangesetConflictError('DATA', 't', 'UPDATE', [1n]),
      'CHANGESET_CONFLICT',
      'conflict',
    ],
    ['a missing table', new SchemaMismatchError('t', 3, undefined), 'SCHEMA_MISMATCH', 'schema'],
    [
      'a cursor that does not continue',
      new CursorConflictError(5n, 7n),
      'CURSOR_CONFLICT',
      'state',
    ],
    [
      'a state value out of range',
      new StateValueError('sequence is negative'),
      'STATE_VALUE',
      'state',
    ],
    ['a fetcher option', new FetcherConfigError('bad URL'), 'FETCHER_CONFIG', 'config'],
    [
      'a runtime without zstd',
      new ZstdUnavailableError('zstd compression'),
      'ZSTD_UNAVAILABLE',
      'config',
    ],
    [
      'a crashed prepare worker',
      new PreparePoolError('prepare worker exited with code 1'),
      'PREPARE_POOL',
      'internal',
    ],
  ];

  it.each(cases)('%s', (_label, error, code, kind) => {
    expect(classifyError(error)).toMatchObject({ code, kind });
  });

  it('a CURSOR_CONFLICT is a state halt, not a changeset conflict', () => {
    const failures = tracker(5);
    const { newHalt, retry } = failures.fail(new CursorConflictError(5n, 7n), 5n);
    expect(newHalt).toMatchObject({
      code: 'CURSOR_CONFLICT',
      kind: 'state',
      message: 'Sequence does not continue from the recorded cursor',
      retries: 0,
    });
    expect(retry.halted).toBe(true);
    expect(failures.caughtUp()).toBeNull();
    expect(failures.halt?.kind).toBe('state');
  });

  it('walks the cause chain to the first SyndDBError', () => {
    const inner = new CursorConflictError(5n, 7n);
    expect(classifyError(new Error('apply failed', { cause: inner }))).toEqual({
      code: 'CURSOR_CONFLICT',
      kind: 'state',
      message: 'Sequence does not continue from the recorded cursor',
    });
    // The outermost SyndDBError decides: a GCS failure caused by an HTTP status is GCS_REQUEST.
    const gcs = new GcsRequestError('list', new HttpStatusError('u', 503));
    expect(classifyError(new Error('wrapped', { cause: gcs })).code).toBe('GCS_REQUEST');
  });

  it('anything that is not a SyndDBError is internal, also a bare fetch failure', () => {
    expect(classifyError(new TypeError('fetch failed'))).toEqual({
      code: 'INTERNAL',
      kind: 'internal',
      message: 'fetch failed',
    });
    expect(classifyError('disk full\nmore')).toEqual({
      code: 'INTERNAL',
      kind: 'internal',
      message: 'disk full',
    });
  });

  it('an error rebuilt after crossing the worker boundary keeps its code and kind', () => {
    for (const [, error, code, kind] of cases) {
      const remote = new RemoteError(structuredClone(serializeError(error)));
      expect(classifyError(remote)).toMatchObject({ code, kind });
      expect(remote.name).toBe((error as Error).name);
    }
    // A plain wrapper crosses as the SyndDBError it wraps, as it would classify in-thread.
    const wrapped = new Error('in worker', { cause: new CursorConflictError(1n, 2n) });
    expect(new RemoteError(serializeError(wrapped))).toMatchObject({
      code: 'CURSOR_CONFLICT',
      kind: 'state',
      name: 'CursorConflictError',
    });
    const plain = new RemoteError(serializeError(new RangeError('bug')));
    expect([plain.code, plain.kind, plain.name]).toEqual(['INTERNAL', 'internal', 'RangeError']);
    // An unknown kind (a worker of another version) is internal.
    const odd = new RemoteError({ ...serializeError(plain), kind: 'weird' as ErrorKind });
    expect(odd.kind).toBe('internal');
  });
});
