import type { VerifiedMessage } from '../message/verified-message';

/** A batch whose key, content hash, batch signature, message signatures and range all checked out. */
export interface VerifiedBatch {
  startSequence: bigint;
  endSequence: bigint;
  /** Unsigned wall-clock time of the flush (informational). */
  createdAt: bigint;
  contentHash: Uint8Array;
  /** 64-byte X||Y batch key (equal to the expected key). */
  signer: Uint8Array;
  signature: Uint8Array;
  /** Messages in sequence order, startSequence..endSequence with no gap. */
  messages: VerifiedMessage[];
}
