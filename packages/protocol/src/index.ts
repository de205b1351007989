export {
  type DecodeBatchBlobOptions,
  decodeBatchBlob,
  type EncodeBatchBlobOptions,
  encodeBatchBlob,
} from './batch/batch-blob';
export { formatBatchFilename, parseBatchFilename } from './batch/batch-filename';
export { computeContentHash } from './batch/content-hash';
export { decodeBatch } from './batch/decode-batch';
export { encodeBatch } from './batch/encode-batch';
export {
  BatchFilenameError,
  BatchRangeMismatchError,
  BatchSignerMismatchError,
  BatchStructureError,
  ContentHashMismatchError,
  EmptyBatchError,
  InvalidBatchMessageError,
  SequenceNotContiguousError,
  UnsupportedBatchVersionError,
} from './batch/errors';
export { BATCH_KEYS, BATCH_VERSION, CONTENT_HASH_LENGTH } from './batch/keys';
export { parseBatch } from './batch/parse-batch';
export {
  type PayloadSpool,
  type ReadBatchStreamOptions,
  readBatchStream,
  type StreamedBatch,
  type StreamedBatchMessage,
} from './batch/read-batch-stream';
export { batchSigningDigest, batchSigningPayload } from './batch/signing';
export { equalBytes } from './bytes/equal-bytes';
export { bytesToHex, hexToBytes } from './bytes/hex';
export { type DecodeCborOptions, decodeCbor } from './cbor/decode-cbor';
export { encodeCbor } from './cbor/encode-cbor';
export {
  CborDecodeError,
  type CborErrorCode,
  CborNestingDepthError,
  CborNonMinimalError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from './cbor/errors';
export type { CborMapEntry, CborMapKey, CborValue } from './cbor/value';
export { decodeCoseSign1 } from './cose/decode-cose-sign1';
export { type EncodeCoseSign1Parameters, encodeCoseSign1 } from './cose/encode-cose-sign1';
export { CoseStructureError, UnsupportedAlgorithmError } from './cose/errors';
export {
  ALG_ES256K,
  HEADER_MSG_TYPE,
  HEADER_SEQUENCE,
  HEADER_TIMESTAMP,
  PUBKEY_LENGTH,
  SIGNATURE_LENGTH,
} from './cose/labels';
export {
  decodeProtectedHeader,
  encodeProtectedHeader,
  isNormalizedProtectedHeader,
} from './cose/protected-header';
export { buildSigStructure, messageSigningDigest, sigStructureHead } from './cose/sig-structure';
export { signedMessageFromCose } from './cose/signed-message-from-cose';
export {
  ERROR_KINDS,
  type ErrorKind,
  IntegerRangeError,
  InvalidLengthError,
  InvalidMessageTypeError,
  isSyndDBError,
  SyndDBError,
  type SyndDBErrorOptions,
  walkErrorChain,
} from './errors';
export {
  createKeccak256,
  type IncrementalHash,
  keccak256,
  keccak256Implementation,
  keccak256Js,
  keccak256Parts,
} from './hash/keccak256';
export { sha256 } from './hash/sha256';
export { HeaderMismatchError, SignedMessageJsonError } from './json/errors';
export {
  parseSignedMessageJson,
  signedMessageFromJson,
  signedMessageToJson,
} from './json/signed-message-json';
export {
  isMessageType,
  MESSAGE_TYPE_NAMES,
  type MessageTypeName,
  messageTypeFromName,
  messageTypeName,
} from './message-type-names';
export {
  decodeChangesetBatchRequest,
  encodeChangesetBatchRequest,
} from './payload/changeset-batch-request';
export { type DecodePayloadOptions, decodePayload } from './payload/decode-payload';
export { PayloadDecodeError } from './payload/errors';
export {
  type SnapshotRequestFields,
  type StreamSnapshotImageOptions,
  streamSnapshotImage,
} from './payload/snapshot-image-stream';
export { decodeSnapshotRequest, encodeSnapshotRequest } from './payload/snapshot-request';
export { decodeWithdrawalRequest, encodeWithdrawalRequest } from './payload/withdrawal-request';
export type {
  BatchInfo,
  CborBatch,
  ChangesetBatchRequest,
  ChangesetData,
  CoseSign1,
  Payload,
  ProtectedHeader,
  SignedBatch,
  SignedMessage,
  SnapshotData,
  SnapshotRequest,
  WithdrawalRequest,
} from './types';
export { MessageType } from './types';
export { DecompressionError, DecompressionLimitError, ZstdUnavailableError } from './zstd/errors';
export {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  DEFAULT_MAX_SNAPSHOT_BYTES,
  MAX_WINDOW_SIZE,
} from './zstd/limits';
export { zstdCompress } from './zstd/zstd-compress';
export { type ZstdDecompressOptions, zstdDecompress } from './zstd/zstd-decompress';
export {
  createZstdDecompressStream,
  type ZstdDecompressStreamOptions,
} from './zstd/zstd-decompress-stream';
