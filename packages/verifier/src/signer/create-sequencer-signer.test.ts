import {
  bytesToHex,
  decodeBatch,
  decodeBatchBlob,
  encodeBatch,
  MessageType,
} from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { ANVIL0_PUBKEY, hex, ONES_PUBKEY, wire } from '../../test/wire-format-fixture';
import { InvalidPrivateKeyError, SignerInputError } from '../errors';
import { createSequencerSigner } from './create-sequencer-signer';

const anvil0 = createSequencerSigner(wire.keys.anvil0.privkey);
const text = (s: string) => new TextEncoder().encode(s);

describe('createSequencerSigner', () => {
  it('derives the fixture public keys and addresses', () => {
    expect(anvil0.pubkey).toEqual(ANVIL0_PUBKEY);
    expect(anvil0.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    const ones = createSequencerSigner(`0x${wire.keys.ones.privkey}`);
    expect(ones.pubkey).toEqual(ONES_PUBKEY);
    expect(ones.address.toLowerCase()).toBe(wire.keys.ones.address);
    expect(createSequencerSigner(hex(wire.keys.anvil0.privkey)).pubkey).toEqual(ANVIL0_PUBKEY);
  });

  it('reproduces V1 byte for byte', () => {
    const { inputs } = wire.v1_cose_message;
    const cose = anvil0.signMessage({
      sequence: inputs.sequence,
      timestamp: inputs.timestamp,
      messageType: inputs.message_type,
      payload: text(inputs.payload_utf8),
    });
    expect(bytesToHex(cose)).toBe(wire.v1_cose_message.cose_sign1);
    expect(bytesToHex(anvil0.signDigest(hex(wire.v1_cose_message.keccak256_sig_structure)))).toBe(
      wire.v1_cose_message.signature,
    );
  });

  it('reproduces the three V3 messages byte for byte', () => {
    const messages = [0, 1, 2].map((i) =>
      anvil0.signMessage({
        sequence: BigInt(i + 1),
        timestamp: 1_700_000_000n + BigInt(i),
        messageType: MessageType.Changeset,
        payload: text(`payload ${i}`),
      }),
    );
    expect(messages.map(bytesToHex)).toEqual(wire.v3_batch_three.messages);
  });

  it('reproduces the V4 pipeline messages (signatures over the given zstd payloads)', () => {
    for (const m of wire.v4_pipeline.messages) {
      const cose = anvil0.signMessage({
        sequence: m.sequence,
        timestamp: m.timestamp,
        messageType: m.message_type,
        payload: hex(m.payload_zstd),
      });
      expect(bytesToHex(cose)).toBe(m.cose_sign1);
      expect(bytesToHex(cose)).toContain(m.signature);
    }
  });

  it('reproduces the V5 empty-payload message at sequence 2^32', () => {
    const cose = anvil0.signMessage({
      sequence: 2n ** 32n,
      timestamp: 1_700_000_000n,
      messageType: MessageType.Snapshot,
      payload: new Uint8Array(0),
    });
    expect(bytesToHex(cose)).toBe(wire.v5_edge.cose_empty_payload_seq_2pow32);
  });

  it.each([
    [
      'V2',
      [wire.v1_cose_message.cose_sign1],
      wire.v2_batch_single.batch_cbor,
      wire.v2_batch_single.batch_signature,
      1_700_000_000,
    ],
    [
      'V3',
      wire.v3_batch_three.messages,
      wire.v3_batch_three.batch_cbor,
      wire.v3_batch_three.batch_signature,
      1_700_000_000,
    ],
    [
      'V4',
      wire.v4_pipeline.messages.map((m) => m.cose_sign1),
      wire.v4_pipeline.batch_cbor,
      wire.v4_pipeline.batch_signature,
      1_700_000_200,
    ],
  ])(
    'signBatch reproduces the %s batch CBOR byte for byte',
    (_label, messages, batchCbor, signature, createdAt) => {
      const batch = anvil0.signBatch(messages.map(hex), { createdAt });
      expect(bytesToHex(batch.signature)).toBe(signature);
      expect(bytesToHex(encodeBatch(batch))).toBe(batchCbor);
      expect(decodeBatch(hex(batchCbor))).toEqual(batch);
    },
  );

  it('decodes the V4 blob to the batch signBatch builds', () => {
    const batch = anvil0.signBatch(
      wire.v4_pipeline.messages.map((m) => hex(m.cose_sign1)),
      { createdAt: 1_700_000_200 },
    );
    const { parsedMessages: _parsed, ...decoded } = decodeBatchBlob(
      hex(wire.v4_pipeline.batch_cbor_zstd),
    );
    expect(decoded).toEqual(batch);
  });

  it('signs an empty batch only with an explicit range', () => {
    expect(() => anvil0.signBatch([], { createdAt: 0 })).toThrow(SignerInputError);
    const empty = anvil0.signBatch([], { createdAt: 0, startSequence: 5, endSequence: 4 });
    expect(empty.startSequence).toBe(5n);
    expect(bytesToHex(empty.contentHash)).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('rejects a digest that is not 32 bytes', () => {
    expect(() => anvil0.signDigest(new Uint8Array(31))).toThrow(SignerInputError);
  });

  it.each([
    ['zero', '0'.repeat(64)],
    ['n', 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'],
    ['2^256 - 1', 'f'.repeat(64)],
    ['short hex', 'ab'.repeat(31)],
    ['non-hex', `${'g'.repeat(64)}`],
  ])('rejects the private key %s', (_label, key) => {
    expect(() => createSequencerSigner(key)).toThrow(InvalidPrivateKeyError);
  });

  it('rejects a private key of the wrong byte length without echoing it', () => {
    expect(() => createSequencerSigner(new Uint8Array(33))).toThrow(InvalidPrivateKeyError);
    const attempt = () => createSequencerSigner(`${wire.keys.anvil0.privkey.slice(0, 63)}x`);
    expect(attempt).toThrow(InvalidPrivateKeyError);
    expect(attempt).not.toThrow(new RegExp(wire.keys.anvil0.privkey.slice(0, 20)));
  });
});
