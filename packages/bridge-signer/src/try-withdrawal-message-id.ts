import { hexToBytes, keccak256 } from '@synddb/protocol';

const utf8 = new TextEncoder();
const HEX = /^[0-9a-fA-F]+$/;

/** Why a `request_id` has no message id: the sequencer refuses odd-length hex. */
export const ODD_LENGTH_HEX_REASON =
  'request_id is hex with an odd number of digits: the sequencer refuses it and derives no message id';

/**
 * The sequencer's message id for a withdrawal `request_id` (REFERENCE §1.12.2,
 * docs/protocol.md#withdrawal-message-id), or null where the sequencer refuses the request:
 *
 * 1. `h` = `request_id` without a leading **lower-case** `0x` (`0X` is not stripped);
 * 2. `h` non-empty and all hex digits (either case): odd length → null (refused); otherwise the
 *    bytes, left-padded with zeros to 32, or the **first 32** when longer;
 * 3. anything else (empty `h`, a non-hex character, a `0X` prefix): keccak256 of the UTF-8 bytes
 *    of the whole original `request_id`.
 */
export function tryWithdrawalMessageId(requestId: string): Uint8Array | null {
  const h = requestId.startsWith('0x') ? requestId.slice(2) : requestId;
  if (h.length > 0 && HEX.test(h)) {
    if (h.length % 2 !== 0) return null;
    // Only the first 64 digits matter: never decode a long id in full.
    const bytes = hexToBytes(h.length > 64 ? h.slice(0, 64) : h)!;
    const id = new Uint8Array(32);
    id.set(bytes, 32 - bytes.length);
    return id;
  }
  return keccak256(utf8.encode(requestId));
}
