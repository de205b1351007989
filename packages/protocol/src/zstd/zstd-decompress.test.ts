import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { DecompressionError, DecompressionLimitError } from './errors';
import { zstdCompress } from './zstd-compress';
import { zstdDecompress } from './zstd-decompress';
import { createZstdDecompressStream } from './zstd-decompress-stream';

const implementations = ['native', 'js'] as const;
const text = new TextEncoder().encode('hello synddb '.repeat(1000));
const frame = zstdCompress(text);

/** 64 MiB of zeros compresses to a few KiB: the classic bomb. */
const bomb = zstdCompress(new Uint8Array(64 * 1024 * 1024));

describe.each(implementations)('zstdDecompress (%s)', (implementation) => {
  it('round-trips and writes frames without content size or checksum', () => {
    expect(frame[4]! & 0xc4).toBe(0); // FCS flag 0, no checksum
    expect(zstdDecompress(frame, { implementation })).toEqual(text);
  });

  it('decodes concatenated frames and skippable frames', () => {
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]);
    const input = new Uint8Array([...frame, ...skippable, ...frame]);
    const out = zstdDecompress(input, { implementation });
    expect(out.length).toBe(text.length * 2);
  });

  it('stops a bomb at the cap quickly', () => {
    expect(bomb.length).toBeLessThan(10_000);
    const started = performance.now();
    expect(() => zstdDecompress(bomb, { implementation, maxOutputBytes: 1024 * 1024 })).toThrow(
      DecompressionLimitError,
    );
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('fails early on a declared content size above the cap', () => {
    const withSize = new Uint8Array(
      execFileSync('zstd', ['-3', '-c', '-q'], { input: Buffer.from(text) }),
    );
    expect(() => zstdDecompress(withSize, { implementation, maxOutputBytes: 100 })).toThrow(
      DecompressionLimitError,
    );
    expect(zstdDecompress(withSize, { implementation })).toEqual(text);
  });

  it('rejects empty input, garbage, trailing bytes and truncation', () => {
    expect(() => zstdDecompress(new Uint8Array(0), { implementation })).toThrow(DecompressionError);
    expect(() => zstdDecompress(new Uint8Array([1, 2, 3, 4, 5]), { implementation })).toThrow(
      DecompressionError,
    );
    expect(() => zstdDecompress(new Uint8Array([...frame, 0]), { implementation })).toThrow(
      DecompressionError,
    );
    for (let n = 0; n < frame.length; n++) {
      expect(() => zstdDecompress(frame.subarray(0, n), { implementation }), `length ${n}`).toThrow(
        DecompressionError,
      );
    }
  });

  it('rejects windows above 2^27 and dictionaries before decoding', () => {
    // Window descriptor 0x90: windowLog 28 => 256 MiB.
    const bigWindow = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x90, 0x01, 0x00, 0x00]);
    expect(() => zstdDecompress(bigWindow, { implementation })).toThrow(/window/);
    const dict = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x58, 0x07, 0x01, 0x00, 0x00]);
    expect(() => zstdDecompress(dict, { implementation })).toThrow(/dictionar/);
  });

  it('rejects corrupted block content', () => {
    const corrupted = frame.slice();
    for (let i = 8; i < corrupted.length; i++) corrupted[i] = corrupted[i]! ^ 0x5a;
    expect(() => zstdDecompress(corrupted, { implementation })).toThrow(DecompressionError);
  });
});

describe.each(implementations)('createZstdDecompressStream (%s)', (implementation) => {
  it('streams a multi-frame input in small chunks', async () => {
    const input = new Uint8Array([...frame, ...frame]);
    const chunks = Array.from({ length: Math.ceil(input.length / 7) }, (_, i) =>
      Buffer.from(input.subarray(i * 7, i * 7 + 7)),
    );
    const out = await buffer(
      Readable.from(chunks).pipe(createZstdDecompressStream({ implementation })),
    );
    expect(out.length).toBe(text.length * 2);
  });

  it('errors with DecompressionLimitError on a bomb', async () => {
    const stream = createZstdDecompressStream({ implementation, maxOutputBytes: 1024 * 1024 });
    await expect(buffer(Readable.from([Buffer.from(bomb)]).pipe(stream))).rejects.toBeInstanceOf(
      DecompressionLimitError,
    );
  });

  it('errors on trailing garbage and truncation', async () => {
    const run = (input: Uint8Array) =>
      buffer(
        Readable.from([Buffer.from(input)]).pipe(createZstdDecompressStream({ implementation })),
      );
    await expect(run(new Uint8Array([...frame, 1, 2, 3, 4]))).rejects.toBeInstanceOf(
      DecompressionError,
    );
    await expect(run(frame.subarray(0, frame.length - 1))).rejects.toBeInstanceOf(
      DecompressionError,
    );
  });
});
