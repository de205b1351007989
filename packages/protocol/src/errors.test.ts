import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BatchFilenameError,
  BatchRangeMismatchError,
  BatchSignerMismatchError,
  BatchStructureError,
  ContentHashMismatchError,
  EmptyBatchError,
  InvalidBatchMessageError,
  SequenceNotContiguousError,
  UnsupportedBatchVersionError,
} from './batch/errors';
import {
  CborDecodeError,
  CborNestingDepthError,
  CborNonMinimalError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from './cbor/errors';
import { CoseStructureError, UnsupportedAlgorithmError } from './cose/errors';
import {
  ERROR_KINDS,
  type ErrorKind,
  IntegerRangeError,
  InvalidLengthError,
  InvalidMessageTypeError,
  isSyndDBError,
  SyndDBError,
  walkErrorChain,
} from './errors';
import * as protocol from './index';
import { HeaderMismatchError, SignedMessageJsonError } from './json/errors';
import { PayloadDecodeError } from './payload/errors';
import { DecompressionError, DecompressionLimitError, ZstdUnavailableError } from './zstd/errors';

class StorageDown extends SyndDBError {
  override name = 'StorageDown';
  declare readonly code: 'STORAGE_DOWN';
  override readonly kind = 'storage';
  constructor(cause?: unknown) {
    super('STORAGE_DOWN', 'storage is down', { cause });
  }
}

describe('SyndDBError', () => {
  it('keeps the (code, shortMessage, options) constructor; kind defaults to internal', () => {
    const error = new SyndDBError('SOMETHING', 'it failed', { details: 'at offset 3' });
    expect(error).toMatchObject({
      name: 'SyndDBError',
      code: 'SOMETHING',
      kind: 'internal',
      shortMessage: 'it failed',
      details: 'at offset 3',
      message: 'it failed\n\nDetails: at offset 3',
    });
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
    expect(new SyndDBError('X', 'x', { kind: 'gap' }).kind).toBe('gap');
  });

  it('a subclass declares its code and kind', () => {
    const error = new StorageDown();
    expect([error.code, error.kind, error.message]).toEqual([
      'STORAGE_DOWN',
      'storage',
      'storage is down',
    ]);
  });

  describe('details', () => {
    it('given details win over the cause', () => {
      const error = new SyndDBError('X', 'x', { details: 'mine', cause: new Error('theirs') });
      expect(error.details).toBe('mine');
      expect(error.cause).toBeInstanceOf(Error);
    });

    it("are an Error cause's message", () => {
      const error = new SyndDBError('X', 'cannot read', { cause: new Error('EIO: i/o error') });
      expect(error.details).toBe('EIO: i/o error');
      expect(error.message).toBe('cannot read\n\nDetails: EIO: i/o error');
    });

    it("are a SyndDBError cause's short message and details, on one line, through the chain", () => {
      const inner = new SyndDBError('INNER', 'GET /x returned HTTP 503', { details: 'body: busy' });
      const middle = new StorageDown(inner);
      expect(middle.details).toBe('GET /x returned HTTP 503: body: busy');
      const outer = new SyndDBError('OUTER', 'sync failed', { cause: middle });
      expect(outer.details).toBe('storage is down: GET /x returned HTTP 503: body: busy');
      // Without details of its own, a SyndDBError cause contributes its short message.
      expect(new SyndDBError('O', 'o', { cause: new StorageDown() }).details).toBe(
        'storage is down',
      );
    });

    it('are anything else as text', () => {
      expect(new SyndDBError('X', 'x', { cause: 'ECONNRESET' }).details).toBe('ECONNRESET');
      expect(new SyndDBError('X', 'x', { cause: 42 }).details).toBe('42');
      expect(new SyndDBError('X', 'x', { cause: null }).details).toBe('null');
    });
  });

  describe('walk', () => {
    const root = new TypeError('fetch failed');
    const storage = new StorageDown(root);
    const outer = new SyndDBError('OUTER', 'outer', { cause: storage });

    it('without a predicate returns the innermost cause', () => {
      expect(outer.walk()).toBe(root);
      expect(new StorageDown().walk()).toBeInstanceOf(StorageDown);
    });

    it('returns the first error the predicate accepts, outermost first, or null', () => {
      expect(outer.walk((e) => e instanceof StorageDown)).toBe(storage);
      expect(outer.walk(isSyndDBError)).toBe(outer);
      expect(outer.walk((e) => e instanceof TypeError)).toBe(root);
      expect(outer.walk((e) => e instanceof RangeError)).toBeNull();
    });

    it('narrows with a type guard', () => {
      const found = outer.walk((e): e is StorageDown => e instanceof StorageDown);
      expect(found?.kind).toBe('storage');
    });

    it('walkErrorChain starts from any value and stops on cycles', () => {
      const plain = new Error('wrapper', { cause: storage });
      expect(walkErrorChain(plain, isSyndDBError)).toBe(storage);
      expect(walkErrorChain('text', isSyndDBError)).toBeNull();
      expect(walkErrorChain(undefined)).toBeUndefined();
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(walkErrorChain(a, (e) => e instanceof RangeError)).toBeNull();
    });
  });

  it('isSyndDBError also recognizes errors of another copy of this package', () => {
    const foreign = Object.create(
      Object.defineProperty({}, Symbol.for('@synddb/protocol/SyndDBError'), { value: true }),
    ) as object;
    expect(isSyndDBError(foreign)).toBe(true);
    expect(isSyndDBError(new Error('x'))).toBe(false);
    expect(isSyndDBError({ code: 'X', kind: 'gap' })).toBe(false);
  });

  it("ERROR_KINDS is the README's table of kinds", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('<!-- error-kinds:start'),
      readme.indexOf('<!-- error-kinds:end'),
    );
    const rows = [...table.matchAll(/^\| `(\w+)` +\| (.+?) +\|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.entries(ERROR_KINDS));
  });
});

describe('every exported error class declares its code and kind', () => {
  const cause = new CoseStructureError('COSE_Sign1 must be an array', 0);
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    IntegerRangeError: {
      make: () => new IntegerRangeError('s', -1n, 'u64'),
      code: 'INTEGER_RANGE',
      kind: 'decode',
    },
    InvalidLengthError: {
      make: () => new InvalidLengthError('h', 32, 31),
      code: 'INVALID_LENGTH',
      kind: 'decode',
    },
    InvalidMessageTypeError: {
      make: () => new InvalidMessageTypeError(7),
      code: 'INVALID_MESSAGE_TYPE',
      kind: 'decode',
    },
    BatchStructureError: {
      make: () => new BatchStructureError('no key s', 0),
      code: 'BATCH_STRUCTURE',
      kind: 'decode',
    },
    UnsupportedBatchVersionError: {
      make: () => new UnsupportedBatchVersionError(2n),
      code: 'BATCH_VERSION',
      kind: 'decode',
    },
    EmptyBatchError: {
      make: () => new EmptyBatchError(0n, 0n),
      code: 'BATCH_EMPTY',
      kind: 'decode',
    },
    ContentHashMismatchError: {
      make: () => new ContentHashMismatchError('aa', 'bb'),
      code: 'CONTENT_HASH_MISMATCH',
      kind: 'verification',
    },
    BatchRangeMismatchError: {
      make: () => new BatchRangeMismatchError('s differs', 's=1'),
      code: 'BATCH_RANGE_MISMATCH',
      kind: 'decode',
    },
    SequenceNotContiguousError: {
      make: () => new SequenceNotContiguousError(1, 2n, 3n),
      code: 'SEQUENCE_NOT_CONTIGUOUS',
      kind: 'decode',
    },
    BatchSignerMismatchError: {
      make: () => new BatchSignerMismatchError(1, 'aa', 'bb'),
      code: 'BATCH_SIGNER_MISMATCH',
      kind: 'verification',
    },
    InvalidBatchMessageError: {
      make: () => new InvalidBatchMessageError(1, cause),
      code: 'BATCH_MESSAGE_INVALID',
      kind: 'decode',
    },
    BatchFilenameError: {
      make: () => new BatchFilenameError('start -1 is outside the u64 range'),
      code: 'BATCH_FILENAME',
      kind: 'input',
    },
    CborDecodeError: {
      make: () => new CborDecodeError('reserved additional information 28', 0),
      code: 'CBOR_DECODE',
      kind: 'decode',
    },
    CborUnexpectedEndError: {
      make: () => new CborUnexpectedEndError(0, 2, 1),
      code: 'CBOR_UNEXPECTED_END',
      kind: 'decode',
    },
    TrailingBytesError: {
      make: () => new TrailingBytesError(3, 1),
      code: 'CBOR_TRAILING_BYTES',
      kind: 'decode',
    },
    DuplicateMapKeyError: {
      make: () => new DuplicateMapKeyError(0, 'int 1'),
      code: 'CBOR_DUPLICATE_KEY',
      kind: 'decode',
    },
    CborNestingDepthError: {
      make: () => new CborNestingDepthError(0, 16),
      code: 'CBOR_NESTING_DEPTH',
      kind: 'decode',
    },
    CborNonMinimalError: {
      make: () => new CborNonMinimalError(0),
      code: 'CBOR_NON_MINIMAL',
      kind: 'decode',
    },
    CborUnsupportedItemError: {
      make: () => new CborUnsupportedItemError(0, 'tag'),
      code: 'CBOR_UNSUPPORTED_ITEM',
      kind: 'decode',
    },
    CoseStructureError: { make: () => cause, code: 'COSE_STRUCTURE', kind: 'decode' },
    UnsupportedAlgorithmError: {
      make: () => new UnsupportedAlgorithmError(-7),
      code: 'COSE_UNSUPPORTED_ALG',
      kind: 'decode',
    },
    SignedMessageJsonError: {
      make: () => new SignedMessageJsonError('not an object'),
      code: 'SIGNED_MESSAGE_JSON',
      kind: 'decode',
    },
    HeaderMismatchError: {
      make: () => new HeaderMismatchError('sequence', '1', '2'),
      code: 'HEADER_MISMATCH',
      kind: 'verification',
    },
    PayloadDecodeError: {
      make: () => new PayloadDecodeError('not an array', 0),
      code: 'PAYLOAD_DECODE',
      kind: 'decode',
    },
    DecompressionError: {
      make: () => new DecompressionError('invalid zstd data'),
      code: 'DECOMPRESSION',
      kind: 'decode',
    },
    DecompressionLimitError: {
      make: () => new DecompressionLimitError(10, 'frame 0'),
      code: 'DECOMPRESSION_LIMIT',
      kind: 'decode',
    },
    ZstdUnavailableError: {
      make: () => new ZstdUnavailableError('zstd compression'),
      code: 'ZSTD_UNAVAILABLE',
      kind: 'config',
    },
  };

  it('the table lists every exported error class but the base', () => {
    expect(Object.keys(table).sort()).toEqual(exportedErrorClasses(protocol).sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((protocol as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
    expect(Object.keys(ERROR_KINDS)).toContain(error.kind);
  });

  it('a batch message error carries its cause in details', () => {
    const error = new InvalidBatchMessageError(2, cause);
    expect(error.shortMessage).toBe('message 2 of the batch is invalid (COSE_STRUCTURE)');
    expect(error.details).toBe('COSE_Sign1 must be an array: offset 0');
    expect(error.walk()).toBe(cause);
  });
});

/** Names of the SyndDBError subclasses a module exports. */
function exportedErrorClasses(module: object): string[] {
  return Object.entries(module)
    .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
    .map(([name]) => name);
}
