import * as zlib from 'node:zlib';

/** node:zlib's zstd functions, or undefined on Node.js builds without zstd (< 22.15). */
export const nativeZstd: typeof zlib | undefined =
  typeof zlib.zstdDecompressSync === 'function' && typeof zlib.zstdCompressSync === 'function'
    ? zlib
    : undefined;
