import { MessageType } from '../types';

/** serde names of `MessageType` in JSON (`{"type": "..."}`). */
export const MESSAGE_TYPE_NAMES: Record<MessageType, string> = {
  [MessageType.Changeset]: 'changeset',
  [MessageType.Withdrawal]: 'withdrawal',
  [MessageType.Snapshot]: 'snapshot',
};

export function messageTypeFromName(name: string): MessageType | undefined {
  for (const [type, n] of Object.entries(MESSAGE_TYPE_NAMES))
    if (n === name) return Number(type) as MessageType;
  return undefined;
}
