import type { MessageType } from '@synddb/protocol';

/** A message whose signature verified under the trusted sequencer key. */
export interface VerifiedMessage {
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
  /** The (zstd-compressed) payload bytes the signature covers. */
  payload: Uint8Array;
  /** 64-byte X||Y key that signed it (equal to the expected key). */
  signer: Uint8Array;
  /** 64-byte low-S r||s. */
  signature: Uint8Array;
  /** Protected header bytes exactly as signed. */
  protectedBytes: Uint8Array;
  /** The COSE_Sign1 bytes (as received, or re-encoded from a JSON `SignedMessage`). */
  raw: Uint8Array;
}
