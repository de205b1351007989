import { ZstdUnavailableError } from './errors';
import { nativeZstd } from './native-zstd';

/**
 * Compresses into a single zstd frame without content size and without checksum — the shape the
 * Rust sequencer's streaming encoder produces (docs/protocol.md#zstd). Bytes may differ from Rust's
 * libzstd; verification never depends on them. Omitting the content size also keeps large inputs
 * from becoming single-segment frames whose window would exceed decoders' 2^27 limit.
 */
export function zstdCompress(input: Uint8Array, level = 3): Uint8Array {
  if (nativeZstd === undefined) throw new ZstdUnavailableError('zstd compression');
  const { constants } = nativeZstd;
  const out = nativeZstd.zstdCompressSync(input, {
    params: {
      [constants.ZSTD_c_compressionLevel]: level,
      [constants.ZSTD_c_contentSizeFlag]: 0,
      [constants.ZSTD_c_checksumFlag]: 0,
    },
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
