import type { CborBatch, SignedBatch } from '../types';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../zstd/limits';
import { zstdCompress } from '../zstd/zstd-compress';
import { zstdDecompress } from '../zstd/zstd-decompress';
import { decodeBatch } from './decode-batch';
import { encodeBatch } from './encode-batch';
import { parseBatch } from './parse-batch';

export interface DecodeBatchBlobOptions {
  /** Cap on the decompressed batch CBOR. Default 256 MiB. */
  maxDecompressedBytes?: number;
}

/**
 * A stored batch blob (`zstd(CBOR(batch))`, docs/protocol.md#batch-object-names) -> a structurally
 * checked batch.
 */
export function decodeBatchBlob(
  blob: Uint8Array,
  options: DecodeBatchBlobOptions = {},
): SignedBatch {
  const cbor = zstdDecompress(blob, {
    maxOutputBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
  });
  return parseBatch(decodeBatch(cbor));
}

export interface EncodeBatchBlobOptions {
  /** zstd level; the sequencer uses 3. */
  level?: number;
}

/** `zstd(encodeBatch(batch))`, the form the sequencer stores and serves. */
export function encodeBatchBlob(
  batch: CborBatch,
  options: EncodeBatchBlobOptions = {},
): Uint8Array {
  return zstdCompress(encodeBatch(batch), options.level ?? 3);
}
