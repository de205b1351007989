import { SyndDBError } from '@synddb/protocol';

/**
 * The bridge signing key cannot be used: malformed or out-of-range hex, a key file that is
 * missing, malformed or readable by other users, or a failure creating it. Messages never contain
 * key material.
 */
export class BridgeSignerKeyError extends SyndDBError {
  override name = 'BridgeSignerKeyError';
  declare readonly code: 'BRIDGE_SIGNER_KEY';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_SIGNER_KEY', shortMessage, options);
  }
}

/**
 * An input to the signing math is malformed: a message id or digest that is not 32 bytes, a
 * recipient that is not a 20-byte address, an amount outside uint256, an invalid option.
 */
export class BridgeSignerInputError extends SyndDBError {
  override name = 'BridgeSignerInputError';
  declare readonly code: 'BRIDGE_SIGNER_INPUT';
  override readonly kind = 'input';
  constructor(shortMessage: string, details?: string) {
    super('BRIDGE_SIGNER_INPUT', shortMessage, { details });
  }
}

/**
 * A signature produced by a signer key is not one the Bridge accepts: not 65 bytes, `v` not 27/28,
 * high S, or it does not recover to the key's address. Never recorded.
 */
export class BridgeSignatureError extends SyndDBError {
  override name = 'BridgeSignatureError';
  declare readonly code: 'BRIDGE_SIGNATURE';
  override readonly kind = 'verification';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_SIGNATURE', shortMessage, options);
  }
}

/** An outbox entry read from storage is not a signable withdrawal (its message id is malformed). */
export class OutboxEntryError extends SyndDBError {
  override name = 'OutboxEntryError';
  declare readonly code: 'BRIDGE_OUTBOX_ENTRY';
  override readonly kind = 'state';
  constructor(shortMessage: string, details?: string) {
    super('BRIDGE_OUTBOX_ENTRY', shortMessage, { details });
  }
}
