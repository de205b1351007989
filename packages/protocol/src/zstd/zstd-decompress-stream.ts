import * as nodeStream from 'node:stream';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { Decompress } from 'fzstd';
import { DecompressionError, DecompressionLimitError } from './errors';
import { DEFAULT_MAX_SNAPSHOT_BYTES } from './limits';
import { nativeZstd } from './native-zstd';
import { ZstdFrameValidator } from './zstd-frame-validator';

/** `stream.compose` (Node >= 16.9) is missing from @types/node's exports, hence the typed view. */
const compose = (nodeStream as unknown as { compose(...streams: NodeJS.ReadWriteStream[]): Duplex })
  .compose;

export interface ZstdDecompressStreamOptions {
  /** Output cap in bytes; the stream errors with DecompressionLimitError past it. Default 4 GiB. */
  maxOutputBytes?: number;
  /** Force the pure-JS decoder. Default: native node:zlib when available. */
  implementation?: 'native' | 'js';
}

/**
 * A duplex stream (compressed in, decompressed out) for snapshots too large to hold decompressed.
 * Frame headers are validated before the decoder sees them (window <= 2^27, no trailing garbage,
 * declared sizes within the cap) and the output is counted: past `maxOutputBytes` the stream fails
 * with DecompressionLimitError. Other failures are DecompressionError.
 *
 * With node:zlib (Node >= 22.15) backpressure is end to end. The pure-JS fallback decodes each
 * written chunk synchronously, so its buffered output is bounded by what one written chunk
 * expands to (and always by the cap): write small chunks to it.
 */
export function createZstdDecompressStream(options: ZstdDecompressStreamOptions = {}): Duplex {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  const validator = new ZstdFrameValidator(maxOutputBytes);
  const native = options.implementation === 'js' ? undefined : nativeZstd;
  if (native === undefined) return jsDecompressStream(validator, maxOutputBytes);

  const inner = native.createZstdDecompress();
  const wrapped = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      callback(null, chunk);
    },
  });
  inner.on('error', (error) => {
    wrapped.destroy(new DecompressionError('invalid zstd data', { cause: error }));
  });
  return compose(validatingTransform(validator), inner, wrapped, countingTransform(maxOutputBytes));
}

function validatingTransform(validator: ZstdFrameValidator): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      // Forward only data-frame bytes: node:zlib stops at a skippable frame, Rust's decoder does not.
      guard(
        () =>
          validator.push(chunk, (bytes) =>
            this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
          ),
        callback,
      );
    },
    flush(callback: TransformCallback) {
      guard(() => validator.finish(), callback);
    },
  });
}

function countingTransform(maxOutputBytes: number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      total += chunk.length;
      if (total > maxOutputBytes) {
        callback(new DecompressionLimitError(maxOutputBytes, `output reached ${total} bytes`));
        return;
      }
      callback(null, chunk);
    },
  });
}

function jsDecompressStream(validator: ZstdFrameValidator, maxOutputBytes: number): Transform {
  let total = 0;
  const stream: Transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      guard(() => {
        validator.push(chunk);
        decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }, callback);
    },
    flush(callback: TransformCallback) {
      guard(() => {
        validator.finish();
        decoder.push(new Uint8Array(0), true);
      }, callback);
    },
  });
  const decoder = new Decompress((data) => {
    total += data.length;
    if (total > maxOutputBytes)
      throw new DecompressionLimitError(maxOutputBytes, `output reached ${total} bytes`);
    // fzstd reuses its window buffer, so copy before handing the bytes on.
    if (data.length > 0) stream.push(Buffer.from(data));
  });
  return stream;
}

/** Runs `fn`, mapping anything unexpected to DecompressionError, and completes the callback. */
function guard(fn: () => unknown, callback: TransformCallback): void {
  try {
    fn();
  } catch (error) {
    callback(
      error instanceof DecompressionError || error instanceof DecompressionLimitError
        ? error
        : new DecompressionError('invalid zstd data', { cause: error }),
    );
    return;
  }
  callback();
}
