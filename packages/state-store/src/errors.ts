import { SyndDBError } from '@synddb/protocol';

/** The replica's state schema was written by a newer version of this package. */
export class StateSchemaVersionError extends SyndDBError {
  override name = 'StateSchemaVersionError';
  declare readonly code: 'STATE_SCHEMA_VERSION';
  override readonly kind = 'state';
  constructor(found: number, supported: number) {
    super(
      'STATE_SCHEMA_VERSION',
      'State schema is newer than this version of @synddb/state-store',
      {
        details: `found schema version ${found}, this build supports up to ${supported}`,
      },
    );
  }
}

/**
 * A cursor update that does not continue from the recorded position. Recording must be strictly
 * monotonic: a repeated or skipped sequence means the caller is about to re-apply or lose data.
 * A `state` error, not a changeset `conflict`: the replica's bookkeeping disagrees with its
 * writer (another writer on the same file, or a bug), whatever the changeset holds.
 */
export class CursorConflictError extends SyndDBError {
  override name = 'CursorConflictError';
  declare readonly code: 'CURSOR_CONFLICT';
  override readonly kind = 'state';
  readonly expected: bigint;
  readonly actual: bigint;
  constructor(expected: bigint, actual: bigint) {
    super('CURSOR_CONFLICT', 'Sequence does not continue from the recorded cursor', {
      details: `expected sequence ${expected}, got ${actual}`,
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** State writes must happen inside the transaction that writes the data they describe (a bug of the caller). */
export class NotInTransactionError extends SyndDBError {
  override name = 'NotInTransactionError';
  declare readonly code: 'STATE_NOT_IN_TRANSACTION';
  override readonly kind = 'internal';
  constructor(operation: string) {
    super('STATE_NOT_IN_TRANSACTION', `${operation} must run inside the data transaction`, {
      details: 'wrap the data changes and the state update in one db.transaction(...)',
    });
  }
}

/** A value read from or written to the state tables is outside its allowed range. */
export class StateValueError extends SyndDBError {
  override name = 'StateValueError';
  declare readonly code: 'STATE_VALUE';
  override readonly kind = 'state';
  constructor(shortMessage: string, details?: string) {
    super('STATE_VALUE', shortMessage, { details });
  }
}
