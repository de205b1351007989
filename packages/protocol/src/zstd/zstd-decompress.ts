import { decompressWithFzstd } from './decompress-fzstd';
import { DecompressionError, DecompressionLimitError } from './errors';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './limits';
import { nativeZstd } from './native-zstd';
import { scanZstdFrames, type ZstdFrameSpan } from './zstd-frame-validator';

export interface ZstdDecompressOptions {
  /** Output cap in bytes; exceeding it throws DecompressionLimitError. Default 256 MiB. */
  maxOutputBytes?: number;
  /**
   * Force the pure-JS decoder (tests, or to avoid native code) or node:zlib. Default: node:zlib
   * when available, except for inputs under 1 KiB with small windows, which JS decodes faster.
   */
  implementation?: 'native' | 'js';
}

/** Frames that may decompress to this much or more are decompressed into one buffer. */
const ONE_BUFFER_FROM_BYTES = 1024 * 1024;

/** Inputs this small with small windows decode faster in JS than through a new native context. */
const SMALL_INPUT_BYTES = 1024;
const SMALL_WINDOW_BYTES = 16 * 1024;

function isSmall(input: Uint8Array, frames: readonly ZstdFrameSpan[]): boolean {
  return (
    input.length <= SMALL_INPUT_BYTES &&
    frames.every((f) => f.skippable || f.windowSize <= SMALL_WINDOW_BYTES)
  );
}

/**
 * Decompresses a zstd stream (one or more frames, with or without a declared content size) with
 * a hard output cap. The input's frame structure is validated first (no trailing bytes, bounded
 * window); the decoder then stops as soon as the output passes the cap, so a bomb costs at most
 * the cap in memory and time proportional to it.
 */
export function zstdDecompress(input: Uint8Array, options: ZstdDecompressOptions = {}): Uint8Array {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new RangeError(
      `maxOutputBytes must be a non-negative safe integer, got ${maxOutputBytes}`,
    );
  }
  const frames = scanZstdFrames(input, maxOutputBytes);
  const native = options.implementation === 'js' ? undefined : nativeZstd;
  if (native === undefined) return decompressWithFzstd(input, frames, maxOutputBytes);
  if (options.implementation === undefined && isSmall(input, frames)) {
    // node:zlib sets up a fresh native context per call (~15-30 µs); for the small payloads of
    // one-row messages the pure-JS decoder is 2-3x faster (measured crossover: ~3 KiB of output).
    return decompressWithFzstd(input, frames, maxOutputBytes);
  }

  // One call per data frame: node:zlib stops at a skippable frame, while Rust's decoder reads on.
  const parts: Buffer[] = [];
  let total = 0;
  for (const frame of frames) {
    if (frame.skippable) continue;
    const remaining = maxOutputBytes - total;
    let part: Buffer;
    try {
      // maxOutputLength must be >= 1; a zero budget is enforced by the length check below.
      part = native.zstdDecompressSync(input.subarray(frame.start, frame.end), {
        maxOutputLength: Math.max(remaining, 1),
        // A large frame goes into one output buffer of the frame's bound (from its block
        // headers), instead of node:zlib's small chunks joined by a copy at the end: it is not
        // held twice. Pages past the actual output are never touched, so never resident.
        ...(frame.maxOutputBytes >= ONE_BUFFER_FROM_BYTES
          ? { chunkSize: Math.min(frame.maxOutputBytes, remaining) + 1 }
          : {}),
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new DecompressionLimitError(maxOutputBytes, 'node:zlib stopped at the output cap');
      }
      throw new DecompressionError('invalid zstd data', {
        details: `frame at offset ${frame.start}: ${(error as Error).message}`,
        cause: error,
      });
    }
    total += part.length;
    if (total > maxOutputBytes) {
      throw new DecompressionLimitError(maxOutputBytes, `output reached ${total} bytes`);
    }
    parts.push(part);
  }
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
