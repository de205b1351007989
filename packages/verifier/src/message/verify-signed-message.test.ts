import {
  decodeCoseSign1,
  HeaderMismatchError,
  InvalidLengthError,
  type SignedMessage,
  SyndDBError,
  signedMessageFromCose,
} from '@synddb/protocol';
import { thrown } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/backends';
import { ANVIL0_PUBKEY, flipBit, hex, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import { MessageSignatureError, SignerMismatchError } from '../errors';
import { createSequencerSigner } from '../signer/create-sequencer-signer';
import { verifySignedMessage } from './verify-signed-message';

const v1: SignedMessage = signedMessageFromCose(
  decodeCoseSign1(hex(wire.v1_cose_message.cose_sign1)),
);

const codeOf = (fn: () => unknown): string => thrown(fn, SyndDBError).code;

describe.each(BACKENDS)('verifySignedMessage (%s)', (_name, backend) => {
  const options = { expectedPubkey: ANVIL0_PUBKEY, backend };

  it('verifies the JSON form of V1 and rebuilds the exact COSE bytes', () => {
    const verified = verifySignedMessage(v1, options);
    expect(verified.sequence).toBe(42n);
    expect(verified.raw).toEqual(hex(wire.v1_cose_message.cose_sign1));
  });

  it('verifies every V4 message in JSON form', () => {
    for (const m of wire.v4_pipeline.messages) {
      const signed = signedMessageFromCose(decodeCoseSign1(hex(m.cose_sign1)));
      expect(verifySignedMessage(signed, options).sequence).toBe(BigInt(m.sequence));
    }
  });

  it.each([
    ['sequence', { sequence: 43n }],
    ['timestamp', { timestamp: 1_700_000_001n }],
    // Rust does not bind the outer type to the header; we do
    // (docs/defects-fixed.md#message-type-not-bound).
    ['message type', { messageType: 1 as const }],
  ])('rejects an outer %s that differs from the signed header', (_label, change) => {
    expect(() => verifySignedMessage({ ...v1, ...change }, options)).toThrow(HeaderMismatchError);
  });

  it('ignores messageHash (informational only)', () => {
    expect(verifySignedMessage({ ...v1, messageHash: new Uint8Array(32) }, options).sequence).toBe(
      42n,
    );
  });

  it('rejects a signer other than the expected key', () => {
    expect(() => verifySignedMessage(v1, { expectedPubkey: ONES_PUBKEY, backend })).toThrow(
      SignerMismatchError,
    );
    const ones = createSequencerSigner(wire.keys.ones.privkey);
    const byOnes = signedMessageFromCose(
      decodeCoseSign1(
        ones.signMessage({
          sequence: 42,
          timestamp: 1,
          messageType: 0,
          payload: new Uint8Array(1),
        }),
      ),
    );
    expect(() => verifySignedMessage(byOnes, options)).toThrow(SignerMismatchError);
    expect(() => verifySignedMessage({ ...byOnes, signer: ANVIL0_PUBKEY }, options)).toThrow(
      MessageSignatureError,
    );
  });

  it('rejects a high-S signature and signatures or signers of the wrong size', () => {
    const highS = { ...v1, signature: hex(wire.v1n_high_s.signature_high_s) };
    expect(() => verifySignedMessage(highS, options)).toThrow(MessageSignatureError);
    expect(() =>
      verifySignedMessage({ ...v1, signature: v1.signature.subarray(0, 63) }, options),
    ).toThrow(InvalidLengthError);
    expect(() =>
      verifySignedMessage({ ...v1, signer: new Uint8Array([4, ...ANVIL0_PUBKEY]) }, options),
    ).toThrow(InvalidLengthError);
  });

  it('rejects every bit flip in the payload and the signature', () => {
    for (let bit = 0; bit < v1.payload.length * 8; bit++) {
      expect(
        codeOf(() => verifySignedMessage({ ...v1, payload: flipBit(v1.payload, bit) }, options)),
      ).toBe('MESSAGE_SIGNATURE_INVALID');
    }
    for (let bit = 0; bit < 512; bit++) {
      expect(
        codeOf(() =>
          verifySignedMessage({ ...v1, signature: flipBit(v1.signature, bit) }, options),
        ),
      ).toBe('MESSAGE_SIGNATURE_INVALID');
    }
  });

  it('rejects every bit flip in the protected header with a typed error', () => {
    const codes = new Set<string>();
    for (let bit = 0; bit < v1.coseProtectedHeader.length * 8; bit++) {
      codes.add(
        codeOf(() =>
          verifySignedMessage(
            { ...v1, coseProtectedHeader: flipBit(v1.coseProtectedHeader, bit) },
            options,
          ),
        ),
      );
    }
    // A flip in the signed sequence/timestamp/type value is caught as a header mismatch first.
    expect(codes).toContain('HEADER_MISMATCH');
  });
});
