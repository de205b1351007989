/** Default cap for a decompressed batch (and non-snapshot payloads): 256 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
/** Default cap for a decompressed snapshot payload (a whole SQLite file): 4 GiB. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024 * 1024;
/**
 * Largest window a frame may require: libzstd's default `ZSTD_WINDOWLOG_LIMIT_DEFAULT` (2^27),
 * which the Rust decoder and node:zlib also apply. Bounds decoder memory.
 */
export const MAX_WINDOW_SIZE = 1 << 27;
