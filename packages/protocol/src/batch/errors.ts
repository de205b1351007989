import { isSyndDBError, SyndDBError } from '../errors';

/** The batch map lacks a key, has an unknown key, or a value of the wrong type. */
export class BatchStructureError extends SyndDBError {
  override name = 'BatchStructureError';
  declare readonly code: 'BATCH_STRUCTURE';
  override readonly kind = 'decode';
  readonly offset: number;
  constructor(shortMessage: string, offset: number) {
    super('BATCH_STRUCTURE', shortMessage, { details: `offset ${offset}` });
    this.offset = offset;
  }
}

/** `v` is not 1, the only batch format version that exists. */
export class UnsupportedBatchVersionError extends SyndDBError {
  override name = 'UnsupportedBatchVersionError';
  declare readonly code: 'BATCH_VERSION';
  override readonly kind = 'decode';
  readonly version: bigint;
  constructor(version: bigint) {
    super('BATCH_VERSION', `unsupported batch version ${version}, expected 1`);
    this.version = version;
  }
}

/** A batch with no messages: it cannot satisfy s/e and carries nothing to verify. */
export class EmptyBatchError extends SyndDBError {
  override name = 'EmptyBatchError';
  declare readonly code: 'BATCH_EMPTY';
  override readonly kind = 'decode';
  constructor(start: bigint, end: bigint) {
    super('BATCH_EMPTY', 'batch contains no messages', { details: `s=${start} e=${end}` });
  }
}

/** SHA-256 of the concatenated messages differs from `h`. */
export class ContentHashMismatchError extends SyndDBError {
  override name = 'ContentHashMismatchError';
  declare readonly code: 'CONTENT_HASH_MISMATCH';
  override readonly kind = 'verification';
  constructor(expectedHex: string, actualHex: string) {
    super('CONTENT_HASH_MISMATCH', 'batch content hash mismatch', {
      details: `h=${expectedHex} computed=${actualHex}`,
    });
  }
}

/** `s`/`e` disagree with the messages, or the count is not e - s + 1. */
export class BatchRangeMismatchError extends SyndDBError {
  override name = 'BatchRangeMismatchError';
  declare readonly code: 'BATCH_RANGE_MISMATCH';
  override readonly kind = 'decode';
  constructor(shortMessage: string, details: string) {
    super('BATCH_RANGE_MISMATCH', shortMessage, { details });
  }
}

/** Message sequences inside a batch are not strictly consecutive. */
export class SequenceNotContiguousError extends SyndDBError {
  override name = 'SequenceNotContiguousError';
  declare readonly code: 'SEQUENCE_NOT_CONTIGUOUS';
  override readonly kind = 'decode';
  readonly index: number;
  readonly expected: bigint;
  readonly actual: bigint;
  constructor(index: number, expected: bigint, actual: bigint) {
    super(
      'SEQUENCE_NOT_CONTIGUOUS',
      `message ${index} has sequence ${actual}, expected ${expected}`,
      {
        details: `index=${index} expected=${expected} actual=${actual}`,
      },
    );
    this.index = index;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A message's unprotected `pubkey` differs from the batch `pubkey`. */
export class BatchSignerMismatchError extends SyndDBError {
  override name = 'BatchSignerMismatchError';
  declare readonly code: 'BATCH_SIGNER_MISMATCH';
  override readonly kind = 'verification';
  readonly index: number;
  constructor(index: number, batchKeyHex: string, messageKeyHex: string) {
    super('BATCH_SIGNER_MISMATCH', `message ${index} is signed by a key other than the batch key`, {
      details: `batch=${batchKeyHex} message=${messageKeyHex}`,
    });
    this.index = index;
  }
}

/**
 * A message inside the batch is not a valid COSE_Sign1; `cause` holds the precise error, and
 * `details` its short message and details.
 */
export class InvalidBatchMessageError extends SyndDBError {
  override name = 'InvalidBatchMessageError';
  declare readonly code: 'BATCH_MESSAGE_INVALID';
  override readonly kind = 'decode';
  readonly index: number;
  constructor(index: number, cause: unknown) {
    const reason = isSyndDBError(cause) ? ` (${cause.code})` : '';
    super('BATCH_MESSAGE_INVALID', `message ${index} of the batch is invalid${reason}`, { cause });
    this.index = index;
  }
}

/** Numbers that cannot be formatted as a `{start:012}_{end:012}.cbor.zst` name (not u64). */
export class BatchFilenameError extends SyndDBError {
  override name = 'BatchFilenameError';
  declare readonly code: 'BATCH_FILENAME';
  override readonly kind = 'input';
  constructor(shortMessage: string) {
    super('BATCH_FILENAME', shortMessage);
  }
}
