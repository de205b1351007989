/**
 * Wire types of the SyndDB protocol (docs/protocol.md). Integers that are u64 on the wire are
 * `bigint` so that adversarial values beyond 2^53 are represented exactly.
 */

/** Message type carried in the COSE protected header, label -65539. */
export const MessageType = {
  Changeset: 0,
  Withdrawal: 1,
  Snapshot: 2,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Decoded COSE protected header (docs/protocol.md#cose-protected-header). */
export interface ProtectedHeader {
  /** COSE alg, always -47 (ES256K) once decoded strictly. */
  alg: number;
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
}

/**
 * One COSE_Sign1 message as found in a batch's `m` array (docs/protocol.md#signed-messages).
 * `protectedBytes` are the *original* bytes inside the protected bstr; signatures are
 * verified over them, never over a re-encoding.
 */
export interface CoseSign1 {
  protectedBytes: Uint8Array;
  header: ProtectedHeader;
  /** 64-byte X||Y signer key from the unprotected header label "pubkey". */
  pubkey: Uint8Array;
  /** The (zstd-compressed) payload bytes; an encoded `nil` payload decodes to empty bytes. */
  payload: Uint8Array;
  /** 64-byte r||s. */
  signature: Uint8Array;
  /** The exact raw bytes of the COSE_Sign1 array (as stored in the batch). */
  raw: Uint8Array;
}

/** A signed message in the shape the Rust `SignedMessage` has (also the JSON form). */
export interface SignedMessage {
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
  /** zstd-compressed payload CBOR. */
  payload: Uint8Array;
  /** keccak256(payload); informational only, never trusted. */
  messageHash: Uint8Array;
  signature: Uint8Array;
  signer: Uint8Array;
  /** Protected header bytes the signature covers. */
  coseProtectedHeader: Uint8Array;
}

/** A decoded (not yet verified) batch map, docs/protocol.md#batch-map. */
export interface CborBatch {
  version: number;
  startSequence: bigint;
  endSequence: bigint;
  createdAt: bigint;
  /** SHA-256 over the concatenated raw COSE messages (32 bytes). */
  contentHash: Uint8Array;
  /** Raw COSE_Sign1 bytes, in order. */
  messages: Uint8Array[];
  /** 64-byte r||s over keccak256(keccak256(be64(s)||be64(e)||h)). */
  signature: Uint8Array;
  /** 64-byte X||Y batch signer key. */
  pubkey: Uint8Array;
}

/** A batch whose messages have been parsed (structure only; signatures not yet checked). */
export interface SignedBatch extends CborBatch {
  parsedMessages: CoseSign1[];
}

/** docs/protocol.md#changeset-payload */
export interface ChangesetData {
  data: Uint8Array;
  sequence: bigint;
  timestamp: bigint;
}
export interface ChangesetBatchRequest {
  batchId: string;
  changesets: ChangesetData[];
  attestationToken?: string;
}

/** docs/protocol.md#snapshot-payload (key order data, timestamp, sequence). */
export interface SnapshotData {
  data: Uint8Array;
  timestamp: bigint;
  sequence: bigint;
}
export interface SnapshotRequest {
  snapshot: SnapshotData;
  messageId: string;
  attestationToken?: string;
}

/** docs/protocol.md#withdrawal-payload */
export interface WithdrawalRequest {
  requestId: string;
  recipient: string;
  amount: string;
  data: Uint8Array;
}

export type Payload =
  | { type: typeof MessageType.Changeset; value: ChangesetBatchRequest }
  | { type: typeof MessageType.Withdrawal; value: WithdrawalRequest }
  | { type: typeof MessageType.Snapshot; value: SnapshotRequest };

/** An entry of a batch listing (`/storage/batches`, GCS object names). */
export interface BatchInfo {
  startSequence: bigint;
  endSequence: bigint;
  /** Opaque locator for the fetcher: object name, file path or decimal start. */
  path: string;
}
