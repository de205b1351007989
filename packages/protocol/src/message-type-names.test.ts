import { describe, expect, it } from 'vitest';
import {
  isMessageType,
  MESSAGE_TYPE_NAMES,
  messageTypeFromName,
  messageTypeName,
} from './message-type-names';
import { MessageType } from './types';

describe('message type names', () => {
  it('name the wire values 0, 1, 2 as the sequencer does', () => {
    expect(MESSAGE_TYPE_NAMES).toEqual(['changeset', 'withdrawal', 'snapshot']);
    expect(messageTypeName(MessageType.Changeset)).toBe('changeset');
    expect(messageTypeName(MessageType.Withdrawal)).toBe('withdrawal');
    expect(messageTypeName(MessageType.Snapshot)).toBe('snapshot');
    for (const type of Object.values(MessageType)) {
      expect(messageTypeFromName(messageTypeName(type))).toBe(type);
    }
  });

  it('know nothing else', () => {
    for (const name of ['Changeset', 'SNAPSHOT', '', 'length', 'toString', '__proto__', '0']) {
      expect(messageTypeFromName(name), name).toBeUndefined();
    }
    for (const value of [0, 1, 2]) expect(isMessageType(value)).toBe(true);
    for (const value of [0n, 1n, '0', 3, -1, 1.5, Number.NaN, null, undefined]) {
      expect(isMessageType(value), String(value)).toBe(false);
    }
  });
});
