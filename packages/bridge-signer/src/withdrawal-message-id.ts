import { hexToBytes, keccak256 } from '@synddb/protocol';

const utf8 = new TextEncoder();

/**
 * The sequencer's message id for a withdrawal `request_id`
 * (docs/protocol.md#withdrawal-message-id): up to 64 hex characters (optional `0x`/`0X`, even
 * length, either case) are the id, left-padded with zeros to 32 bytes; any other string is
 * keccak256 of its UTF-8 bytes.
 *
 * The Rust validator uses a different rule (only `0x` + exactly 64 hex is taken as-is,
 * docs/defects-fixed.md#message-id-rule), so its ids diverge from the sequencer's for short or
 * unprefixed hex. Validators here use the sequencer's rule, so both sides sign the same id.
 */
export function withdrawalMessageId(requestId: string): Uint8Array {
  const hex =
    requestId.startsWith('0x') || requestId.startsWith('0X') ? requestId.slice(2) : requestId;
  if (hex.length > 0 && hex.length <= 64) {
    const bytes = hexToBytes(hex);
    if (bytes !== null) {
      const id = new Uint8Array(32);
      id.set(bytes, 32 - bytes.length);
      return id;
    }
  }
  return keccak256(utf8.encode(requestId));
}
