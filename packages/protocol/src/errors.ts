/**
 * Base of every error thrown by @synddb packages. `code` is stable across releases and is what
 * callers, logs and metrics should branch on; `shortMessage` is a one-line human description and
 * `details` carries context (offsets, sizes, sequences).
 */
export class SyndDBError extends Error {
  override name = 'SyndDBError';
  readonly code: string;
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(
    code: string,
    shortMessage: string,
    options: { details?: string | undefined; cause?: unknown } = {},
  ) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}

/** An integer is outside the range its field allows (negative where unsigned, > u64::MAX, ...). */
export class IntegerRangeError extends SyndDBError {
  override name = 'IntegerRangeError';
  readonly field: string;
  readonly value: bigint;

  constructor(field: string, value: bigint, range: string, details?: string) {
    super('INTEGER_RANGE', `${field} = ${value} is outside ${range}`, { details });
    this.field = field;
    this.value = value;
  }
}

/** A fixed-size byte field (hash, signature, public key) has the wrong length. */
export class InvalidLengthError extends SyndDBError {
  override name = 'InvalidLengthError';
  readonly field: string;
  readonly expected: number;
  readonly actual: number;

  constructor(field: string, expected: number, actual: number) {
    super('INVALID_LENGTH', `${field} must be ${expected} bytes, got ${actual}`, {
      details: `field=${field} expected=${expected} actual=${actual}`,
    });
    this.field = field;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The message type is not one of 0 (changeset), 1 (withdrawal), 2 (snapshot). */
export class InvalidMessageTypeError extends SyndDBError {
  override name = 'InvalidMessageTypeError';
  readonly value: unknown;

  constructor(value: unknown, details?: string) {
    super('INVALID_MESSAGE_TYPE', `invalid message type ${String(value)}`, { details });
    this.value = value;
  }
}
