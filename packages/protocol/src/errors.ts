/**
 * What kind of failure an error is: the one classification every @synddb error declares and that
 * callers decide on (the sync engine's retries and halts, HTTP statuses, exit codes) instead of
 * matching `code`s. The `code` says exactly what failed; the kind says what to do about it.
 * These texts are the README's table (packages/protocol/README.md#error-kinds); what the sync
 * engine does with each kind is in packages/sync/README.md#failures-and-retries.
 */
export const ERROR_KINDS = {
  storage:
    'Storage (the sequencer, a bucket, a directory) did not deliver: unreachable, an error status, a listed batch it does not serve, a malformed listing. Usually transient.',
  gap: 'Sequences are missing from storage while later ones exist. May be transient (a batch not uploaded yet).',
  verification:
    'Signed data does not verify: a bad signature, an untrusted signer, content that differs from what was signed.',
  decode:
    'Data that does not decode, exceeds a size cap or is out of order (CBOR, COSE, zstd, batches, payloads, changesets, snapshots, listings).',
  conflict: "A changeset does not fit the replica's rows (a row it changes is missing or differs).",
  schema: 'A changeset names a table the replica does not have, or one with other columns.',
  rule: "An invariant rule of the validator's configuration does not hold on the replica after a message's changes (checked before they commit).",
  state:
    "The replica's own bookkeeping (sync cursor, state tables, signature outbox) disagrees with what is being done, e.g. a cursor that does not continue.",
  config:
    'The setup is unusable: an invalid option or key, a port or file that cannot be used, a runtime without a needed feature.',
  input: 'A caller passed an invalid argument or request (HTTP 4xx).',
  unavailable:
    'A local service is busy, not ready or closed to new work: try again later (HTTP 503).',
  aborted:
    'The operation was stopped before it finished: an AbortSignal, a deadline, stop() or close().',
  internal:
    'A bug or a failing environment (I/O error, crashed worker). Also every error that is not a SyndDBError.',
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;

export interface SyndDBErrorOptions {
  /**
   * Context (offsets, sizes, sequences). Default: derived from `cause`: a SyndDBError's
   * `shortMessage: details`, another Error's message, anything else as text.
   */
  details?: string | undefined;
  cause?: unknown;
  /**
   * For errors whose kind depends on the instance (a rebuilt remote error, an HTTP error by
   * status). A class with one kind declares it as a field instead. Default `internal`.
   */
  kind?: ErrorKind | undefined;
}

/** Marks SyndDBErrors across copies of this package (a bundled copy next to an installed one). */
const BRAND = Symbol.for('@synddb/protocol/SyndDBError');

/**
 * Base of every error thrown by @synddb packages, shaped like viem's `BaseError`:
 *
 * - `code` is stable across releases: what logs and metrics name; subclasses narrow it to their
 *   literal code(s);
 * - `kind` is what callers decide on (see `ERROR_KINDS`); subclasses declare it, so the sync
 *   engine, HTTP APIs and CLIs branch on it and never on code names;
 * - `shortMessage` is a one-line description, `details` carries context, and when not given is
 *   derived from `cause`; `message` is both;
 * - `walk()` follows the `cause` chain.
 */
export class SyndDBError extends Error {
  override name = 'SyndDBError';
  readonly code: string;
  readonly kind: ErrorKind;
  readonly shortMessage: string;
  readonly details: string | undefined;
  declare readonly cause: unknown;

  constructor(code: string, shortMessage: string, options: SyndDBErrorOptions = {}) {
    const details =
      options.details !== undefined || options.cause === undefined
        ? options.details
        : detailsFromCause(options.cause);
    super(
      details ? `${shortMessage}\n\nDetails: ${details}` : shortMessage,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.kind = options.kind ?? 'internal';
    this.shortMessage = shortMessage;
    this.details = details;
  }

  /**
   * This error and its causes, outermost first: returns the first one `predicate` accepts (null
   * when none does), or without a predicate the innermost cause (this error when it has none).
   */
  walk(): unknown;
  walk<T>(predicate: (error: unknown) => error is T): T | null;
  walk(predicate: (error: unknown) => boolean): unknown;
  walk(predicate?: (error: unknown) => boolean): unknown {
    return walkErrorChain(this, predicate);
  }

  static {
    Object.defineProperty(SyndDBError.prototype, BRAND, { value: true });
  }
}

/**
 * Whether `error` is a SyndDBError, also one made by another copy of this package (where
 * `instanceof` would say no).
 */
export function isSyndDBError(error: unknown): error is SyndDBError {
  return (
    error instanceof SyndDBError ||
    (typeof error === 'object' &&
      error !== null &&
      (error as { [BRAND]?: unknown })[BRAND] === true)
  );
}

/** Longest cause chain followed; a longer one is a cycle or a bug. */
const MAX_CAUSE_DEPTH = 32;

/**
 * Follows `cause` from `error` (which need not be a SyndDBError): the first error that
 * `predicate` accepts, or null; without a predicate the innermost cause.
 */
export function walkErrorChain(error: unknown): unknown;
export function walkErrorChain<T>(
  error: unknown,
  predicate: (error: unknown) => error is T,
): T | null;
export function walkErrorChain(error: unknown, predicate?: (error: unknown) => boolean): unknown;
export function walkErrorChain(error: unknown, predicate?: (error: unknown) => boolean): unknown {
  let current = error;
  for (let depth = 0; ; depth++) {
    if (predicate?.(current)) return current;
    const next =
      typeof current === 'object' && current !== null && 'cause' in current
        ? current.cause
        : undefined;
    if (next === undefined || next === current || depth >= MAX_CAUSE_DEPTH) {
      return predicate ? null : current;
    }
    current = next;
  }
}

/** The line a cause contributes as `details` (see `SyndDBErrorOptions.details`). */
function detailsFromCause(cause: unknown): string {
  if (isSyndDBError(cause)) {
    return cause.details ? `${cause.shortMessage}: ${cause.details}` : cause.shortMessage;
  }
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** An integer is outside the range its field allows (negative where unsigned, > u64::MAX, ...). */
export class IntegerRangeError extends SyndDBError {
  override name = 'IntegerRangeError';
  declare readonly code: 'INTEGER_RANGE';
  override readonly kind = 'decode';
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
  declare readonly code: 'INVALID_LENGTH';
  override readonly kind = 'decode';
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
  declare readonly code: 'INVALID_MESSAGE_TYPE';
  override readonly kind = 'decode';
  readonly value: unknown;

  constructor(value: unknown, details?: string) {
    super('INVALID_MESSAGE_TYPE', `invalid message type ${String(value)}`, { details });
    this.value = value;
  }
}
