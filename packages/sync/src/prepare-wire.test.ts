import { MessageType } from '@synddb/protocol';
import { describe, expect, it } from 'vitest';
import { packMessages, unpackMessages, type WireMessage } from './prepare-wire';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('prepare wire', () => {
  it('round-trips every kind of message in order, packed or not', () => {
    const backing = new Uint8Array(64).map((_, i) => i);
    const messages: WireMessage[] = [
      {
        type: MessageType.Changeset,
        sequence: 7n,
        timestamp: 1_700_000_000n,
        messageHash: new Uint8Array(32).fill(9),
        request: {
          batchId: 'b7',
          changesets: [
            { data: backing.subarray(10, 20), sequence: 0n, timestamp: 5n },
            { data: new Uint8Array(0), sequence: 1n, timestamp: 6n },
          ],
        },
      },
      {
        type: MessageType.Withdrawal,
        sequence: 8n,
        timestamp: 1n,
        messageHash: new Uint8Array(32).fill(1),
        request: { requestId: 'r', recipient: '0x00', amount: '1', data: bytes(1, 2) },
      },
      {
        type: MessageType.Changeset,
        sequence: 2n ** 64n - 1n,
        timestamp: 2n ** 63n,
        messageHash: new Uint8Array(32).fill(2),
        request: {
          batchId: `é-€-😀-${'x'.repeat(100)}`,
          changesets: [{ data: bytes(1), sequence: 2n ** 64n - 1n, timestamp: 0n }],
          attestationToken: 'token ✓',
        },
      },
      {
        type: 'invalid',
        sequence: 10n,
        timestamp: 0n,
        error: { name: 'E', code: 'C', kind: 'decode', shortMessage: 'bad', details: undefined },
      },
      {
        type: MessageType.Changeset,
        sequence: 11n,
        timestamp: 0n,
        messageHash: new Uint8Array(32),
        request: { batchId: '', changesets: [] },
        deltas: [],
      },
      {
        type: MessageType.Snapshot,
        sequence: 12n,
        timestamp: 0n,
        messageHash: new Uint8Array(32),
        payload: bytes(3),
      },
    ];
    const packed = packMessages(messages);
    expect(packed.others).toHaveLength(4);
    const copy = structuredClone(packed, { transfer: [packed.buffer] });
    expect(unpackMessages(copy)).toEqual(messages);
  });

  it('packs an empty batch', () => {
    expect(unpackMessages(packMessages([]))).toEqual([]);
  });

  it('round-trips verified payloads left to the receiver (any type, empty, views into a larger buffer)', () => {
    const backing = new Uint8Array(40).map((_, i) => i);
    const messages: WireMessage[] = [
      {
        type: 'payload',
        verified: {
          messageType: MessageType.Changeset,
          sequence: 0n,
          timestamp: 1n,
          payload: backing.subarray(3, 9),
        },
      },
      {
        type: MessageType.Changeset,
        sequence: 1n,
        timestamp: 0n,
        messageHash: new Uint8Array(32).fill(4),
        request: { batchId: 'x', changesets: [] },
      },
      {
        type: 'payload',
        verified: {
          messageType: MessageType.Withdrawal,
          sequence: 2n ** 63n,
          timestamp: 2n ** 64n - 1n,
          payload: new Uint8Array(0),
        },
      },
    ];
    const packed = packMessages(messages);
    expect(packed.others).toHaveLength(0);
    const copy = structuredClone(packed, { transfer: [packed.buffer] });
    expect(unpackMessages(copy)).toEqual(messages);
  });
});
