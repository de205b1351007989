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
    // withdrawal, invalid and snapshot; changesets are packed, with their deltas too
    expect(packed.others).toHaveLength(3);
    const copy = structuredClone(packed, { transfer: [packed.buffer] });
    expect(unpackMessages(copy)).toEqual(messages);
  });

  it('packs changeset messages with state deltas (lanes, UPDATE positions in the changeset) and sends one with decoded UPDATEs as it is', () => {
    const changeset = Uint8Array.from({ length: 40 }, (_, i) => i);
    const lanes = (seed: number) => new Uint16Array(1024).map((_, i) => (i * seed + 7) & 0xffff);
    const withDeltas: WireMessage = {
      type: MessageType.Changeset,
      sequence: 3n,
      timestamp: 4n,
      messageHash: new Uint8Array(32).fill(3),
      request: {
        batchId: 'b', // odd lengths before the deltas: their views must still be aligned
        changesets: [
          { data: changeset, sequence: 0n, timestamp: 0n },
          { data: bytes(1, 2, 3), sequence: 1n, timestamp: 0n },
          { data: new Uint8Array(0), sequence: 2n, timestamp: 0n },
        ],
      },
      deltas: [
        {
          lanes: lanes(3),
          updates: [],
          undecodedUpdates: { changeset, positions: Uint32Array.of(0, 5, 0, 17, 21, 30) },
        },
        { lanes: lanes(5), updates: [] },
        null,
      ],
    };
    const decoded: WireMessage = {
      type: MessageType.Changeset,
      sequence: 4n,
      timestamp: 0n,
      messageHash: new Uint8Array(32),
      request: { batchId: 'c', changesets: [{ data: bytes(9), sequence: 0n, timestamp: 0n }] },
      deltas: [
        {
          lanes: lanes(1),
          updates: [
            {
              table: 't',
              primaryKey: [1],
              oldValues: [1],
              oldTypes: bytes(1),
              newValues: [undefined],
              newTypes: bytes(0),
            },
          ],
        },
      ],
    };
    const packed = packMessages([withDeltas, decoded]);
    expect(packed.others).toEqual([decoded]);
    const copy = structuredClone(packed, { transfer: [packed.buffer] });
    const out = unpackMessages(copy);
    expect(out).toEqual([withDeltas, decoded]);
    const m = out[0] as Extract<WireMessage, { type: typeof MessageType.Changeset }>;
    // views into the transferred buffer, the UPDATEs' changeset the unpacked changeset itself
    expect(m.deltas![0]!.lanes.buffer).toBe(copy.buffer);
    expect(m.deltas![0]!.undecodedUpdates!.changeset).toBe(m.request.changesets[0]!.data);
    expect(m.deltas![1]!.undecodedUpdates).toBeUndefined();
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
