/** Batch map keys in the order serde writes `CborBatchWire` (docs/protocol.md#batch-map). */
export const BATCH_KEYS = ['v', 's', 'e', 't', 'h', 'm', 'sig', 'pubkey'] as const;
export const BATCH_VERSION = 1;
export const CONTENT_HASH_LENGTH = 32;
