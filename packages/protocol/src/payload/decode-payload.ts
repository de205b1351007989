import { InvalidMessageTypeError } from '../errors';
import { MessageType, type Payload } from '../types';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_SNAPSHOT_BYTES } from '../zstd/limits';
import { zstdDecompress } from '../zstd/zstd-decompress';
import { decodeChangesetBatchRequest } from './changeset-batch-request';
import { decodeSnapshotRequest } from './snapshot-request';
import { decodeWithdrawalRequest } from './withdrawal-request';

export interface DecodePayloadOptions {
  /** Cap for changeset and withdrawal payloads after decompression. Default 256 MiB. */
  maxDecompressedBytes?: number;
  /** Cap for snapshot payloads (a whole SQLite file) after decompression. Default 4 GiB. */
  maxSnapshotBytes?: number;
}

/**
 * zstd-decompresses a message payload and decodes it as the struct its message type names
 * (the type must come from the verified protected header, never from JSON).
 */
export function decodePayload(
  messageType: MessageType,
  compressedPayload: Uint8Array,
  options: DecodePayloadOptions = {},
): Payload {
  switch (messageType) {
    case MessageType.Changeset: {
      const cbor = zstdDecompress(compressedPayload, {
        maxOutputBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      });
      return { type: MessageType.Changeset, value: decodeChangesetBatchRequest(cbor) };
    }
    case MessageType.Withdrawal: {
      const cbor = zstdDecompress(compressedPayload, {
        maxOutputBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      });
      return { type: MessageType.Withdrawal, value: decodeWithdrawalRequest(cbor) };
    }
    case MessageType.Snapshot: {
      const cbor = zstdDecompress(compressedPayload, {
        maxOutputBytes: options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      });
      return { type: MessageType.Snapshot, value: decodeSnapshotRequest(cbor) };
    }
    default:
      throw new InvalidMessageTypeError(messageType);
  }
}
