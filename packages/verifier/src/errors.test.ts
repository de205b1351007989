import { type ErrorKind, HeaderMismatchError, SyndDBError } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  BatchSignatureError,
  InvalidPrivateKeyError,
  InvalidPublicKeyError,
  MessageSignatureError,
  NonNormalizedHeaderError,
  SignerInputError,
  SignerMismatchError,
  VerifierPoolError,
} from './errors';
import * as verifier from './index';
import { parseSequencerPubkey } from './keys/parse-sequencer-pubkey';

describe('every exported error class declares its code and kind', () => {
  const table: Record<string, { make: () => SyndDBError; code: string; kind: ErrorKind }> = {
    HeaderMismatchError: {
      make: () => new HeaderMismatchError('sequence', '1', '2'),
      code: 'HEADER_MISMATCH',
      kind: 'verification',
    },
    InvalidPublicKeyError: {
      make: () => new InvalidPublicKeyError('hex', 'not hex'),
      code: 'INVALID_PUBLIC_KEY',
      kind: 'config',
    },
    InvalidPrivateKeyError: {
      make: () => new InvalidPrivateKeyError('not a scalar'),
      code: 'INVALID_PRIVATE_KEY',
      kind: 'config',
    },
    SignerMismatchError: {
      make: () => new SignerMismatchError('batch', 'aa', 'bb'),
      code: 'SIGNER_MISMATCH',
      kind: 'verification',
    },
    MessageSignatureError: {
      make: () => new MessageSignatureError(3n),
      code: 'MESSAGE_SIGNATURE_INVALID',
      kind: 'verification',
    },
    BatchSignatureError: {
      make: () => new BatchSignatureError(0n, 9n),
      code: 'BATCH_SIGNATURE_INVALID',
      kind: 'verification',
    },
    NonNormalizedHeaderError: {
      make: () => new NonNormalizedHeaderError(3n),
      code: 'PROTECTED_HEADER_NOT_NORMALIZED',
      kind: 'verification',
    },
    BackendUnavailableError: {
      make: () => new BackendUnavailableError('native', new Error('addon missing')),
      code: 'SECP256K1_BACKEND_UNAVAILABLE',
      kind: 'config',
    },
    VerifierPoolError: {
      make: () => new VerifierPoolError('verifier worker crashed', new Error('boom')),
      code: 'VERIFIER_POOL',
      kind: 'internal',
    },
    SignerInputError: {
      make: () => new SignerInputError('digest must be 32 bytes'),
      code: 'SIGNER_INPUT',
      kind: 'input',
    },
  };

  it('the table lists every exported error class', () => {
    const exported = Object.entries(verifier)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof SyndDBError)
      .map(([name]) => name);
    expect(Object.keys(table).sort()).toEqual(exported.sort());
  });

  it.each(Object.entries(table))('%s', (name, row) => {
    const error = row.make();
    expect(error).toBeInstanceOf((verifier as Record<string, unknown>)[name] as typeof Error);
    expect(error.name).toBe(name);
    expect([error.code, error.kind]).toEqual([row.code, row.kind]);
  });

  it("errors that wrap a cause carry the cause's message as details", () => {
    expect(new BackendUnavailableError('native', new Error('addon missing')).details).toBe(
      'addon missing',
    );
    expect(new VerifierPoolError('verifier worker crashed', 'exit 1').details).toBe('exit 1');
    expect(new VerifierPoolError('verifier pool is closed').details).toBeUndefined();
    let error: unknown;
    try {
      parseSequencerPubkey('00'.repeat(64));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidPublicKeyError);
    expect((error as InvalidPublicKeyError).cause).toBeInstanceOf(Error);
    expect((error as InvalidPublicKeyError).details).toBe(
      ((error as InvalidPublicKeyError).cause as Error).message,
    );
  });
});
