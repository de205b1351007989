/** Batch map keys in the order serde writes `CborBatchWire` (PROTOCOL.md §3.1). */
export const BATCH_KEYS = ['v', 's', 'e', 't', 'h', 'm', 'sig', 'pubkey'] as const;
export const BATCH_VERSION = 1;
export const CONTENT_HASH_LENGTH = 32;
