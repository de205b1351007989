import { randomFillSync } from 'node:crypto';
import {
  type CborBatch,
  encodeBatchBlob,
  keccak256,
  MessageType,
  type PayloadSpool,
  readBatchStream,
} from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { wire } from '../../test/wire-format-fixture';
import { BatchSignatureError, MessageSignatureError, SignerMismatchError } from '../errors';
import { createSequencerSigner } from '../signer/create-sequencer-signer';
import { verifyBatch } from './verify-batch';
import { verifyStreamedBatch } from './verify-streamed-batch';

const anvil0 = createSequencerSigner(wire.keys.anvil0.privkey);
const ones = createSequencerSigner(wire.keys.ones.privkey);
const payload = randomFillSync(new Uint8Array(200_000));

function messages(): Uint8Array[] {
  return [
    anvil0.signMessage({
      sequence: 5n,
      timestamp: 1n,
      messageType: MessageType.Changeset,
      payload: Uint8Array.of(1, 2, 3),
    }),
    anvil0.signMessage({ sequence: 6n, timestamp: 2n, messageType: MessageType.Snapshot, payload }),
  ];
}

async function streamed(batch: CborBatch) {
  const spooled: Uint8Array[] = [];
  const result = await readBatchStream(
    (async function* () {
      yield encodeBatchBlob(batch);
    })(),
    {
      maxInMemoryBytes: 64 * 1024,
      maxDecompressedBytes: 16 * 1024 * 1024,
      openSpool: (): PayloadSpool<string> => ({
        handle: 'file',
        write: (chunk) => void spooled.push(chunk.slice()),
        end: () => {},
      }),
    },
  );
  return { result, spooled };
}

describe('verifyStreamedBatch', () => {
  it('accepts what verifyBatch accepts, the snapshot payload verified over its streamed digest', async () => {
    const batch = anvil0.signBatch(messages(), { createdAt: 7n });
    const { result } = await streamed(batch);
    const verified = verifyStreamedBatch(result, { expectedPubkey: anvil0.pubkey });
    const whole = verifyBatch(batch, { expectedPubkey: anvil0.pubkey });
    expect(verified.messages.map((m) => [m.sequence, m.messageType])).toEqual(
      whole.messages.map((m) => [m.sequence, m.messageType]),
    );
    expect(verified.messages[0]!.payload).toEqual(whole.messages[0]!.payload);
    expect(verified.messages[0]!.spooled).toBeUndefined();
    expect(verified.messages[1]!.payload.length).toBe(0);
    expect(verified.messages[1]!.spooled).toMatchObject({ handle: 'file', bytes: payload.length });
    expect(verified.messages[1]!.spooled!.payloadHash).toEqual(keccak256(payload));
    expect(verified.contentHash).toEqual(whole.contentHash);
  });

  it('refuses a snapshot payload that differs from what was signed', async () => {
    const [changeset, snapshot] = messages();
    const tampered = snapshot!.slice();
    tampered[tampered.length >> 1]! ^= 1; // in the payload, which is most of the message
    // The batch is signed over the tampered message: only the message signature can tell.
    const { result } = await streamed(anvil0.signBatch([changeset!, tampered], { createdAt: 7n }));
    expect(() => verifyStreamedBatch(result, { expectedPubkey: anvil0.pubkey })).toThrow(
      MessageSignatureError,
    );
  });

  it('refuses a bad batch signature and an untrusted batch key', async () => {
    const batch = anvil0.signBatch(messages(), { createdAt: 7n });
    const badSignature = { ...batch, signature: batch.signature.slice() };
    badSignature.signature[10]! ^= 1;
    const { result } = await streamed(badSignature);
    expect(() => verifyStreamedBatch(result, { expectedPubkey: anvil0.pubkey })).toThrow(
      BatchSignatureError,
    );
    const { result: good } = await streamed(batch);
    expect(() => verifyStreamedBatch(good, { expectedPubkey: ones.pubkey })).toThrow(
      SignerMismatchError,
    );
  });
});
