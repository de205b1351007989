import { SyndDBError } from '../errors';

/** The input is not a well-formed zstd stream (bad magic, truncated, trailing garbage, ...). */
export class DecompressionError extends SyndDBError {
  override name = 'DecompressionError';
  declare readonly code: 'DECOMPRESSION';
  override readonly kind = 'decode';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('DECOMPRESSION', shortMessage, options);
  }
}

/** Decompressed output would exceed the configured cap (e.g. a zstd bomb). */
export class DecompressionLimitError extends SyndDBError {
  override name = 'DecompressionLimitError';
  declare readonly code: 'DECOMPRESSION_LIMIT';
  override readonly kind = 'decode';
  readonly limit: number;
  constructor(limit: number, details: string) {
    super('DECOMPRESSION_LIMIT', `decompressed size exceeds the limit of ${limit} bytes`, {
      details,
    });
    this.limit = limit;
  }
}

/** This Node.js build has no zstd in node:zlib (added in 22.15/23.8); needed for compression. */
export class ZstdUnavailableError extends SyndDBError {
  override name = 'ZstdUnavailableError';
  declare readonly code: 'ZSTD_UNAVAILABLE';
  override readonly kind = 'config';
  constructor(what: string) {
    super('ZSTD_UNAVAILABLE', `${what} needs node:zlib zstd support (Node.js >= 22.15)`, {
      details: `running Node.js ${process.version}`,
    });
  }
}
