import { hexToBytes, keccak256 } from '@synddb/protocol';
import { BridgeSignerInputError } from './errors';

const UINT256_MAX = (1n << 256n) - 1n;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * `keccak256(message_id32 || recipient20 || keccak256(data) || u256_be(amount))`, the Bridge's
 * sequencer message hash (abi.encodePacked, docs/protocol.md#bridge-digests). Throws
 * `BridgeSignerInputError` for a message id that is not 32 bytes, a recipient that is not `0x` + 40
 * hex, or an amount outside uint256.
 */
export function withdrawalMessageHash(
  messageId: Uint8Array,
  recipient: string,
  data: Uint8Array,
  amount: bigint,
): Uint8Array {
  if (messageId.length !== 32) {
    throw new BridgeSignerInputError(
      'Message id must be 32 bytes',
      `got ${messageId.length} bytes`,
    );
  }
  if (!ADDRESS.test(recipient)) {
    throw new BridgeSignerInputError(
      'Recipient must be 0x followed by 40 hex characters',
      `got ${JSON.stringify(recipient.slice(0, 80))}`,
    );
  }
  if (amount < 0n || amount > UINT256_MAX) {
    throw new BridgeSignerInputError('Amount is outside uint256', `amount=${amount}`);
  }
  const packed = new Uint8Array(32 + 20 + 32 + 32);
  packed.set(messageId, 0);
  packed.set(hexToBytes(recipient.slice(2))!, 32);
  packed.set(keccak256(data), 52);
  packed.set(hexToBytes(amount.toString(16).padStart(64, '0'))!, 84);
  return keccak256(packed);
}
