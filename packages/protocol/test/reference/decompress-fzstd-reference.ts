// fzstd decoding as it was before small frames took the one-shot decoder (issue 13), kept as the
// reference test/zstd-differential.test.ts checks the current one against. Not used at run time.
import { Decompress } from 'fzstd';
import { DecompressionError, DecompressionLimitError } from '../../src/zstd/errors';
import type { ZstdFrameSpan } from '../../src/zstd/zstd-frame-validator';

/**
 * Pure-JS fallback (fzstd's streaming decoder) for Node.js without node:zlib zstd. Frames were
 * validated by `scanZstdFrames` (window <= 2^27, so fzstd's window buffer is bounded). Output is
 * collected block by block (<= 128 KiB each) and the running total is checked before each chunk
 * is kept, so a bomb stops after at most one block beyond the cap.
 */
export function decompressWithFzstdReference(
  input: Uint8Array,
  frames: readonly ZstdFrameSpan[],
  maxOutputBytes: number,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const frame of frames) {
    if (frame.skippable) continue;
    const decoder = new Decompress((chunk) => {
      total += chunk.length;
      if (total > maxOutputBytes) {
        throw new DecompressionLimitError(maxOutputBytes, `output reached ${total} bytes`);
      }
      // fzstd reuses its window buffer for later blocks, so keep a copy.
      if (chunk.length > 0) chunks.push(chunk.slice());
    });
    try {
      decoder.push(input.subarray(frame.start, frame.end), true);
    } catch (error) {
      if (error instanceof DecompressionLimitError) throw error;
      throw new DecompressionError('invalid zstd data', {
        details: `frame at offset ${frame.start}`,
        cause: error,
      });
    }
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
