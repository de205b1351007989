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

/**
 * A withdrawal `request_id` has no message id: the sequencer refuses odd-length hex, so the Bridge
 * can never know the withdrawal, and it is never signed (the validator records it as unsignable).
 */
export class WithdrawalMessageIdError extends SyndDBError {
  override name = 'WithdrawalMessageIdError';
  declare readonly code: 'BRIDGE_MESSAGE_ID';
  override readonly kind = 'input';
  constructor(shortMessage: string, options: { details?: string } = {}) {
    super('BRIDGE_MESSAGE_ID', shortMessage, options);
  }
}

/**
 * The bridge signer's tables in the replica disagree with what this package writes: a schema
 * written by a newer version, a withdrawal recorded twice for one sequence, a malformed stored
 * value. A `state` error: the sync engine halts instead of signing on inconsistent bookkeeping.
 */
export class WithdrawalLedgerError extends SyndDBError {
  override name = 'WithdrawalLedgerError';
  declare readonly code: 'BRIDGE_LEDGER';
  override readonly kind = 'state';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_LEDGER', shortMessage, options);
  }
}

/**
 * A withdrawal validator (a built-in policy or an embedder's) threw instead of deciding. The
 * apply transaction rolls back and sync halts at that withdrawal (retried after the backoff): a
 * withdrawal is never signed, nor refused, on a decision that was not made.
 */
export class WithdrawalPolicyError extends SyndDBError {
  override name = 'WithdrawalPolicyError';
  declare readonly code: 'BRIDGE_POLICY';
  override readonly kind = 'internal';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_POLICY', shortMessage, options);
  }
}

/**
 * The withdrawal policy configuration is invalid: a malformed amount or address, an unknown
 * key, an unreadable or malformed policy file.
 */
export class WithdrawalPolicyConfigError extends SyndDBError {
  override name = 'WithdrawalPolicyConfigError';
  declare readonly code: 'BRIDGE_POLICY_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_POLICY_CONFIG', shortMessage, options);
  }
}

/**
 * The Bridge follower cannot run as configured: an RPC endpoint on another chain than
 * BRIDGE_CHAIN_ID, a malformed Bridge address or RPC URL, an invalid option.
 */
export class BridgeChainConfigError extends SyndDBError {
  override name = 'BridgeChainConfigError';
  declare readonly code: 'BRIDGE_CHAIN_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_CHAIN_CONFIG', shortMessage, options);
  }
}

/**
 * The Bridge's RPC endpoint answered something malformed (a log of another contract or event,
 * outside the requested range, bad hex). Nothing from that answer is recorded; the poll is retried.
 */
export class BridgeChainResponseError extends SyndDBError {
  override name = 'BridgeChainResponseError';
  declare readonly code: 'BRIDGE_CHAIN_RESPONSE';
  override readonly kind = 'decode';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('BRIDGE_CHAIN_RESPONSE', shortMessage, options);
  }
}
