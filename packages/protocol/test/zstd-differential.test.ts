// Small zstd frames without a declared content size take fzstd's one-shot decoder; this checks it
// against the streaming path it replaced (the reference): same bytes out, or the same error
// (class, code, message, details), on compressed, mutated, truncated and random input and caps.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decompressWithFzstd } from '../src/zstd/decompress-fzstd';
import { zstdCompress } from '../src/zstd/zstd-compress';
import { scanZstdFrames } from '../src/zstd/zstd-frame-validator';
import { decompressWithFzstdReference } from './reference/decompress-fzstd-reference';

function outcome(decode: () => Uint8Array): unknown {
  try {
    // Hex, not an array of numbers: deep equality of arrays of up to 128 KiB elements made this
    // file take 20+ s of a 30 s limit, and time out on a loaded machine.
    return { ok: Buffer.from(decode()).toString('hex') };
  } catch (error) {
    const e = error as { name: string; code?: string; message: string; details?: string };
    return { error: [e.name, e.code, e.message, e.details] };
  }
}

function same(input: Uint8Array, cap: number): void {
  let frames: ReturnType<typeof scanZstdFrames>;
  try {
    frames = scanZstdFrames(input, cap);
  } catch {
    return; // rejected before any decoder sees it, on both paths
  }
  expect(outcome(() => decompressWithFzstd(input, frames, cap))).toEqual(
    outcome(() => decompressWithFzstdReference(input, frames, cap)),
  );
}

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 5000 }))
    .map(([b, n]) => new Uint8Array(n).fill(b)),
  fc
    .array(fc.constantFrom('item ', 'changeset ', 'x'), { maxLength: 200 })
    .map((words) => new TextEncoder().encode(words.join(''))),
);

describe('one-shot fzstd decoding of small frames matches the streaming decoder', () => {
  it('on compressed payloads (one frame, or several), under every cap', () => {
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 3 }), fc.nat(), (parts, cap) => {
        const input = Uint8Array.from(parts.flatMap((p) => [...zstdCompress(p)]));
        const total = parts.reduce((n, p) => n + p.length, 0);
        same(input, 256 << 20);
        same(input, total);
        same(input, cap % (total + 2));
      }),
      { numRuns: 500 },
    );
  });

  it('on mutated and truncated frames', () => {
    fc.assert(
      fc.property(
        payload,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.nat(),
        (data, flips, cut) => {
          const input = Uint8Array.from(zstdCompress(data));
          for (const [at, value] of flips) input[4 + (at % (input.length - 4))] = value;
          same(input, 256 << 20);
          same(input, data.length);
          same(input.subarray(0, cut % (input.length + 1)), 256 << 20);
        },
      ),
      // 3,000 runs, their outputs compared as arrays of numbers, took 20-54 s of a 30 s limit
      // in CI; 1,000 runs compared as hex take ~2 s.
      { numRuns: 1000 },
    );
  }, 120_000);

  it('on random bytes after a frame header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (rest) => {
        same(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, ...rest]), 256 << 20);
      }),
      { numRuns: 3000 },
    );
  });
});
