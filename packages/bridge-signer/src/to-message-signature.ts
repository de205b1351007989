import type { OutboxEntry } from '@synddb/state-store';

/**
 * A signature as the Rust validator's signature API serves it
 * (docs/compatibility.md#messagesignature-json).
 */
export interface MessageSignature {
  /** `0x` + 64 lowercase hex. */
  message_id: string;
  /** `0x` + 130 hex, `r || s || v`. */
  signature: string;
  /** Lowercase `0x` address (alloy's serde); compare case-insensitively. */
  signer: string;
  /** Unix seconds. */
  signed_at: number;
}

/** The `MessageSignature` JSON of a signed outbox entry; null while it is unsigned. */
export function toMessageSignature(entry: OutboxEntry): MessageSignature | null {
  if (entry.signature === null || entry.signer === null || entry.signedAt === null) return null;
  return {
    message_id: entry.messageId.toLowerCase(),
    signature: entry.signature.toLowerCase(),
    signer: entry.signer.toLowerCase(),
    signed_at: Math.floor(entry.signedAt / 1000),
  };
}
