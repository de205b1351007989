import { describe, expect, it } from 'vitest';
import { formatBatchFilename, parseBatchFilename } from './batch-filename';
import { BatchFilenameError } from './errors';

describe('batch filenames (upstream batch.rs tests)', () => {
  it('formats with 12-digit minimum padding', () => {
    expect(formatBatchFilename(1, 50)).toBe('000000000001_000000000050.cbor.zst');
    expect(formatBatchFilename(0, 0)).toBe('000000000000_000000000000.cbor.zst');
    expect(formatBatchFilename(999999999999n, 999999999999n)).toBe(
      '999999999999_999999999999.cbor.zst',
    );
    expect(formatBatchFilename(1000000000000n, (1n << 64n) - 1n)).toBe(
      '1000000000000_18446744073709551615.cbor.zst',
    );
  });

  it('refuses values outside u64 or unsafe numbers', () => {
    expect(() => formatBatchFilename(-1, 0)).toThrow(BatchFilenameError);
    expect(() => formatBatchFilename(0n, 1n << 64n)).toThrow(BatchFilenameError);
    expect(() => formatBatchFilename(2 ** 60, 0)).toThrow(BatchFilenameError);
    expect(() => formatBatchFilename(1.5, 2)).toThrow(BatchFilenameError);
  });

  it('parses valid names, any width, leading +', () => {
    expect(parseBatchFilename('000000000001_000000000050.cbor.zst')).toEqual({
      start: 1n,
      end: 50n,
    });
    expect(parseBatchFilename('000000000000_000000000000.cbor.zst')).toEqual({
      start: 0n,
      end: 0n,
    });
    expect(parseBatchFilename('999999999999_999999999999.cbor.zst')).toEqual({
      start: 999999999999n,
      end: 999999999999n,
    });
    expect(parseBatchFilename('1_2.cbor.zst')).toEqual({ start: 1n, end: 2n });
    expect(parseBatchFilename('+1_+2.cbor.zst')).toEqual({ start: 1n, end: 2n });
    expect(parseBatchFilename('18446744073709551615_0.cbor.zst')).toEqual({
      start: (1n << 64n) - 1n,
      end: 0n,
    });
  });

  it('rejects what Rust rejects', () => {
    for (const name of [
      '000000000001_000000000050.json',
      '000000000001_000000000050',
      '000000000001_000000000050_extra.cbor.zst',
      'abc_def.cbor.zst',
      '',
      '.zst',
      '.cbor.zst',
      '_.cbor.zst',
      '1_.cbor.zst',
      '-1_2.cbor.zst',
      '+_2.cbor.zst',
      '1 _2.cbor.zst',
      '18446744073709551616_0.cbor.zst',
      '１_2.cbor.zst',
      '1_2.cbor.zst.tmp',
    ]) {
      expect(parseBatchFilename(name), JSON.stringify(name)).toBeNull();
    }
  });
});
