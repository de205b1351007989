import {
  CoseStructureError,
  decodeCoseSign1,
  encodeCoseSign1,
  messageSigningDigest,
  SyndDBError,
} from '@synddb/protocol';
import { thrown } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/backends';
import { ANVIL0_PUBKEY, flipBit, hex, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import { MessageSignatureError, NonNormalizedHeaderError, SignerMismatchError } from '../errors';
import { createSequencerSigner } from '../signer/create-sequencer-signer';
import { verifyMessage } from './verify-message';

const V1 = hex(wire.v1_cose_message.cose_sign1);
const anvil0 = createSequencerSigner(wire.keys.anvil0.privkey);
const ones = createSequencerSigner(wire.keys.ones.privkey);

/**
 * Byte ranges of V1's four fields, derived from its layout (docs/protocol.md#message-structure).
 */
const V1_FIELDS = (() => {
  const cose = decodeCoseSign1(V1);
  const find = (part: Uint8Array) => Buffer.from(V1).indexOf(Buffer.from(part));
  const range = (part: Uint8Array) => [find(part), find(part) + part.length] as const;
  return {
    protected: range(cose.protectedBytes),
    pubkey: range(cose.pubkey),
    payload: range(cose.payload),
    signature: range(cose.signature),
  };
})();

describe.each(BACKENDS)('verifyMessage (%s)', (_name, backend) => {
  const options = { expectedPubkey: ANVIL0_PUBKEY, backend };

  it('verifies V1 and returns its signed fields', () => {
    const verified = verifyMessage(V1, options);
    expect(verified.sequence).toBe(42n);
    expect(verified.timestamp).toBe(1_700_000_000n);
    expect(verified.messageType).toBe(0);
    expect(new TextDecoder().decode(verified.payload)).toBe('test payload');
    expect(verified.signer).toEqual(ANVIL0_PUBKEY);
    expect(verified.signature).toEqual(hex(wire.v1_cose_message.signature));
    expect(verified.protectedBytes).toEqual(hex(wire.v1_cose_message.protected_header));
    expect(verified.raw).toEqual(V1);
  });

  it.each([
    ...wire.v3_batch_three.messages.map((m, i) => [`V3 message ${i}`, m] as const),
    ...wire.v4_pipeline.messages.map((m, i) => [`V4 message ${i}`, m.cose_sign1] as const),
    ['V5 empty payload', wire.v5_edge.cose_empty_payload_seq_2pow32] as const,
  ])('verifies %s', (_label, cose) => {
    const verified = verifyMessage(hex(cose), { ...options, requireNormalizedHeader: true });
    expect(verified.raw).toEqual(hex(cose));
  });

  it('verifies V5 with its empty payload and 2^32 sequence', () => {
    const verified = verifyMessage(hex(wire.v5_edge.cose_empty_payload_seq_2pow32), options);
    expect(verified.sequence).toBe(2n ** 32n);
    expect(verified.payload).toHaveLength(0);
    expect(verified.messageType).toBe(2);
  });

  it('rejects V1 under the "ones" key with SignerMismatchError', () => {
    const error = thrown(() => verifyMessage(V1, { expectedPubkey: ONES_PUBKEY, backend }));
    expect(error).toBeInstanceOf(SignerMismatchError);
    expect((error as SignerMismatchError).code).toBe('SIGNER_MISMATCH');
    expect((error as SignerMismatchError).sequence).toBe(42n);
  });

  it('accepts a message of the "ones" signer only when that key is expected', () => {
    const cose = ones.signMessage({
      sequence: 7,
      timestamp: 1,
      messageType: 1,
      payload: new Uint8Array([1, 2]),
    });
    expect(verifyMessage(cose, { expectedPubkey: ONES_PUBKEY, backend }).sequence).toBe(7n);
    expect(() => verifyMessage(cose, options)).toThrow(SignerMismatchError);
  });

  it('rejects a message whose unprotected key claims anvil0 but that "ones" signed', () => {
    const cose = decodeCoseSign1(
      ones.signMessage({ sequence: 7, timestamp: 1, messageType: 0, payload: new Uint8Array(3) }),
    );
    const forged = encodeCoseSign1({ ...cose, pubkey: ANVIL0_PUBKEY });
    expect(() => verifyMessage(forged, options)).toThrow(MessageSignatureError);
  });

  it('rejects V1-neg (the high-S twin) with MessageSignatureError', () => {
    const cose = decodeCoseSign1(V1);
    const highS = encodeCoseSign1({ ...cose, signature: hex(wire.v1n_high_s.signature_high_s) });
    const error = thrown(() => verifyMessage(highS, options));
    expect(error).toBeInstanceOf(MessageSignatureError);
    expect((error as MessageSignatureError).sequence).toBe(42n);
  });

  it.each([
    ['payload', 'MessageSignatureError', MessageSignatureError],
    ['signature', 'MessageSignatureError', MessageSignatureError],
    ['pubkey', 'SignerMismatchError', SignerMismatchError],
  ] as const)('rejects every bit flip in the %s with %s', (field, _errorName, errorClass) => {
    const [start, end] = V1_FIELDS[field];
    for (let bit = start * 8; bit < end * 8; bit++) {
      expect(() => verifyMessage(flipBit(V1, bit), options)).toThrow(errorClass);
    }
  });

  it('rejects every bit flip of the protected header, and of the whole message, with a typed error', () => {
    const [start, end] = V1_FIELDS.protected;
    const seen = new Set<string>();
    for (let bit = 0; bit < V1.length * 8; bit++) {
      const error = thrown(() => verifyMessage(flipBit(V1, bit), options));
      expect(error).toBeInstanceOf(SyndDBError);
      if (bit >= start * 8 && bit < end * 8) seen.add((error as SyndDBError).code);
    }
    // Value bits break the signature; structure bits break the strict decoder first.
    expect(seen).toContain('MESSAGE_SIGNATURE_INVALID');
    expect([...seen].some((code) => code !== 'MESSAGE_SIGNATURE_INVALID')).toBe(true);
  });

  it('rejects a valid signature moved to another sequence number', () => {
    const cose = decodeCoseSign1(V1);
    const other = decodeCoseSign1(
      anvil0.signMessage({
        sequence: 43,
        timestamp: 1_700_000_000,
        messageType: 0,
        payload: cose.payload,
      }),
    );
    const spliced = encodeCoseSign1({ ...other, signature: cose.signature });
    expect(() => verifyMessage(spliced, options)).toThrow(MessageSignatureError);
  });

  it('re-decodes a CoseSign1 object from its raw bytes instead of trusting its fields', () => {
    const cose = decodeCoseSign1(V1);
    const tampered = {
      ...cose,
      header: { ...cose.header, sequence: 99n },
      payload: new Uint8Array([1]),
    };
    const verified = verifyMessage(tampered, options);
    expect(verified.sequence).toBe(42n);
    expect(new TextDecoder().decode(verified.payload)).toBe('test payload');
    expect(() =>
      verifyMessage({ ...cose, raw: flipBit(V1, V1_FIELDS.payload[0] * 8) }, options),
    ).toThrow(MessageSignatureError);
  });

  it('rejects a tagged COSE_Sign1 and trailing bytes', () => {
    expect(() => verifyMessage(new Uint8Array([0xd2, ...V1]), options)).toThrow(CoseStructureError);
    expect(() => verifyMessage(new Uint8Array([...V1, 0]), options)).toThrow(SyndDBError);
    expect(() => verifyMessage(new Uint8Array(0), options)).toThrow(SyndDBError);
  });

  describe('requireNormalizedHeader', () => {
    // A valid header with the labels in a non-coset order (sequence before alg): RFC-correct,
    // signed over its own bytes, but coset would re-encode it differently
    // (docs/protocol.md#protected-header-normalization).
    // map(4): -65537 => 5, 1 => -47, -65538 => 10, -65539 => 0
    const reordered = hex('a43a000100000501382e3a000100010a3a0001000200');
    const payload = new Uint8Array([9, 9, 9]);
    const cose = encodeCoseSign1({
      protectedBytes: reordered,
      pubkey: ANVIL0_PUBKEY,
      payload,
      signature: anvil0.signDigest(messageSigningDigest(reordered, payload)),
    });

    it('accepts a non-normalized but validly signed header by default', () => {
      expect(verifyMessage(cose, options).sequence).toBe(5n);
    });

    it('rejects it with NonNormalizedHeaderError when Rust parity is asked for', () => {
      const error = thrown(() =>
        verifyMessage(cose, { ...options, requireNormalizedHeader: true }),
      );
      expect(error).toBeInstanceOf(NonNormalizedHeaderError);
      expect((error as NonNormalizedHeaderError).code).toBe('PROTECTED_HEADER_NOT_NORMALIZED');
    });
  });
});
