import { SyndDBError } from '@synddb/protocol';

/** A sequencer public key given to us (an option, env, /status) is malformed or not a point on secp256k1. */
export class InvalidPublicKeyError extends SyndDBError {
  override name = 'InvalidPublicKeyError';
  declare readonly code: 'INVALID_PUBLIC_KEY';
  override readonly kind = 'config';
  readonly reason: 'length' | 'hex' | 'not-on-curve';

  constructor(
    reason: 'length' | 'hex' | 'not-on-curve',
    shortMessage: string,
    options: { details?: string | undefined; cause?: unknown } = {},
  ) {
    super('INVALID_PUBLIC_KEY', shortMessage, options);
    this.reason = reason;
  }
}

/** A private key given to the signer is malformed or outside [1, n-1]. */
export class InvalidPrivateKeyError extends SyndDBError {
  override name = 'InvalidPrivateKeyError';
  declare readonly code: 'INVALID_PRIVATE_KEY';
  override readonly kind = 'config';

  constructor(shortMessage: string) {
    // Never echo the key itself into messages or logs.
    super('INVALID_PRIVATE_KEY', shortMessage);
  }
}

/** A message or batch is signed by a key other than the trusted sequencer key. */
export class SignerMismatchError extends SyndDBError {
  override name = 'SignerMismatchError';
  declare readonly code: 'SIGNER_MISMATCH';
  override readonly kind = 'verification';
  readonly expected: string;
  readonly actual: string;
  /** Sequence of the offending message, when the mismatch is at message level. */
  readonly sequence: bigint | undefined;

  constructor(what: string, expected: string, actual: string, sequence?: bigint) {
    super('SIGNER_MISMATCH', `${what} is signed by an untrusted key`, {
      details: `expected 0x${expected}, got 0x${actual}${sequence === undefined ? '' : ` (sequence ${sequence})`}`,
    });
    this.expected = expected;
    this.actual = actual;
    this.sequence = sequence;
  }
}

/** The COSE signature of one message does not verify (or is high-S / out of range). */
export class MessageSignatureError extends SyndDBError {
  override name = 'MessageSignatureError';
  declare readonly code: 'MESSAGE_SIGNATURE_INVALID';
  override readonly kind = 'verification';
  readonly sequence: bigint;

  constructor(sequence: bigint, details?: string) {
    super('MESSAGE_SIGNATURE_INVALID', `signature of message ${sequence} is invalid`, { details });
    this.sequence = sequence;
  }
}

/** The batch signature over keccak256(keccak256(be64(s) || be64(e) || h)) does not verify. */
export class BatchSignatureError extends SyndDBError {
  override name = 'BatchSignatureError';
  declare readonly code: 'BATCH_SIGNATURE_INVALID';
  override readonly kind = 'verification';
  readonly startSequence: bigint;
  readonly endSequence: bigint;

  constructor(startSequence: bigint, endSequence: bigint) {
    super(
      'BATCH_SIGNATURE_INVALID',
      `signature of batch ${startSequence}..${endSequence} is invalid`,
    );
    this.startSequence = startSequence;
    this.endSequence = endSequence;
  }
}

/**
 * The protected header is valid but not in the byte layout coset re-encodes to; the Rust validator
 * would reject it (docs/protocol.md#protected-header-normalization). Only raised with
 * `requireNormalizedHeader`.
 */
export class NonNormalizedHeaderError extends SyndDBError {
  override name = 'NonNormalizedHeaderError';
  declare readonly code: 'PROTECTED_HEADER_NOT_NORMALIZED';
  override readonly kind = 'verification';
  readonly sequence: bigint;

  constructor(sequence: bigint) {
    super(
      'PROTECTED_HEADER_NOT_NORMALIZED',
      `protected header of message ${sequence} is not in normalized form`,
    );
    this.sequence = sequence;
  }
}

/** A secp256k1 backend cannot be used in this process (e.g. the native addon failed to load). */
export class BackendUnavailableError extends SyndDBError {
  override name = 'BackendUnavailableError';
  declare readonly code: 'SECP256K1_BACKEND_UNAVAILABLE';
  override readonly kind = 'config';

  constructor(backend: string, cause: unknown) {
    super('SECP256K1_BACKEND_UNAVAILABLE', `secp256k1 backend "${backend}" is unavailable`, {
      cause,
    });
  }
}

/** The worker pool failed (worker crashed, closed while busy, bad reply). */
export class VerifierPoolError extends SyndDBError {
  override name = 'VerifierPoolError';
  declare readonly code: 'VERIFIER_POOL';
  override readonly kind = 'internal';

  constructor(shortMessage: string, cause?: unknown) {
    super('VERIFIER_POOL', shortMessage, { cause });
  }
}

/** The signer was given unusable input (a digest of the wrong size, an empty batch without a range). */
export class SignerInputError extends SyndDBError {
  override name = 'SignerInputError';
  declare readonly code: 'SIGNER_INPUT';
  override readonly kind = 'input';

  constructor(shortMessage: string) {
    super('SIGNER_INPUT', shortMessage);
  }
}
