import { MessageType } from './types';

/**
 * The message types' names, indexed by `MessageType` (0 changeset, 1 withdrawal, 2 snapshot): the
 * sequencer's serde names in JSON (`{"type": "..."}`), and the names of the types in metrics,
 * events and APIs. The one list: everything that names a message type uses it.
 */
export const MESSAGE_TYPE_NAMES = ['changeset', 'withdrawal', 'snapshot'] as const satisfies Record<
  MessageType,
  string
>;

/** `'changeset' | 'withdrawal' | 'snapshot'`. */
export type MessageTypeName = (typeof MESSAGE_TYPE_NAMES)[MessageType];

/** True for the three message types of the protocol (0, 1, 2), whatever the value's type. */
export function isMessageType(value: unknown): value is MessageType {
  return (
    value === MessageType.Changeset ||
    value === MessageType.Withdrawal ||
    value === MessageType.Snapshot
  );
}

/** The name of a message type (`MESSAGE_TYPE_NAMES[type]`), typed. */
export function messageTypeName(type: MessageType): MessageTypeName {
  return MESSAGE_TYPE_NAMES[type];
}

/** The message type of a name, or undefined for anything else (case-sensitive, as serde). */
export function messageTypeFromName(name: string): MessageType | undefined {
  const type = MESSAGE_TYPE_NAMES.indexOf(name as MessageTypeName);
  return type < 0 ? undefined : (type as MessageType);
}
