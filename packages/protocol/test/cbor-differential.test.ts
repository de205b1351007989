// The CBOR decoder against the reference (its previous implementation): on any input both return
// the same tree (kinds, values, offsets, views) or throw the same error (class, code, message,
// details), so the per-item optimizations change nothing a caller can observe.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CborWriter } from '../src/cbor/cbor-writer';
import { decodeCbor } from '../src/cbor/decode-cbor';
import { decodeCborReference } from './reference/decode-cbor-reference';

function outcome(decode: () => unknown): unknown {
  try {
    return { ok: decode() };
  } catch (error) {
    const e = error as { name: string; code?: string; message: string; details?: string };
    return { error: [e.name, e.code, e.message, e.details] };
  }
}

function same(bytes: Uint8Array, maxDepth?: number): void {
  const options = maxDepth === undefined ? {} : { maxDepth };
  expect(outcome(() => decodeCbor(bytes, options))).toEqual(
    outcome(() => decodeCborReference(bytes, options)),
  );
}

/** Well-formed CBOR of the supported subset (and some not), built by the writer. */
const item: fc.Memo<(w: CborWriter) => void> = fc.memo((n) =>
  n <= 1
    ? fc.oneof(
        fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }).map((v) => (w: CborWriter) => {
          w.int(v);
        }),
        fc
          .constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32)
          .map((v) => (w: CborWriter) => {
            w.int(v);
          }),
        fc.uint8Array({ maxLength: 40 }).map((v) => (w: CborWriter) => {
          w.bytes(v);
        }),
        fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => (w: CborWriter) => {
          w.text(v);
        }),
        fc.constantFrom('a', 'batch_id', 'data', '\u{feff}x', 'é').map((v) => (w: CborWriter) => {
          w.text(v);
        }),
        fc.constant((w: CborWriter) => {
          w.null();
        }),
      )
    : fc.oneof(
        item(n - 1),
        fc.array(item(n - 1), { maxLength: 5 }).map((items) => (w: CborWriter) => {
          w.arrayHeader(items.length);
          for (const i of items) i(w);
        }),
        fc
          .array(
            fc.tuple(
              fc.oneof(fc.constantFrom('a', 'b', 'data', 'a'), fc.bigInt({ min: -3n, max: 3n })),
              item(n - 1),
            ),
            { maxLength: 20 },
          )
          .map((entries) => (w: CborWriter) => {
            w.mapHeader(entries.length);
            for (const [k, v] of entries) {
              if (typeof k === 'string') w.text(k);
              else w.int(k);
              v(w);
            }
          }),
      ),
);

const encoded = item(4).map((write) => {
  const w = new CborWriter();
  write(w);
  return w.finish();
});

describe('decodeCbor matches its reference', () => {
  it('on well-formed input (duplicate keys, deep nesting and big integers included)', () => {
    fc.assert(
      fc.property(encoded, fc.integer({ min: 1, max: 5 }), (bytes, depth) => {
        same(bytes);
        same(bytes, depth);
      }),
      { numRuns: 2000 },
    );
  });

  it('on mutated, truncated and extended input', () => {
    fc.assert(
      fc.property(
        encoded,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 3 }),
        (bytes, flips, cut, tail) => {
          const mutated = Uint8Array.from(bytes);
          for (const [at, value] of flips)
            if (mutated.length > 0) mutated[at % mutated.length] = value;
          same(mutated);
          same(mutated.subarray(0, cut % (mutated.length + 1)));
          same(Uint8Array.from([...mutated, ...tail]));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('on random bytes and every head form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => same(bytes)),
      { numRuns: 3000 },
    );
    for (let initial = 0; initial < 256; initial++) {
      for (const rest of [
        [],
        [0],
        [23],
        [24, 0, 0, 0],
        [255, 255, 255, 255, 255, 255, 255, 255, 1],
      ]) {
        same(Uint8Array.from([initial, ...rest]));
      }
    }
    // lengths and counts beyond the input, in every head size, 8-byte ones beyond 2^53
    for (const major of [2, 3, 4, 5]) {
      for (const head of [
        [0x18, 200],
        [0x19, 1, 0],
        [0x1a, 0, 1, 0, 0],
        [0x1b, 0x7f, 255, 255, 255, 255, 255, 255, 255],
        [0x1b, 0, 0x40, 0, 0, 0, 0, 0, 0],
      ]) {
        same(Uint8Array.from([(major << 5) | head[0]!, ...head.slice(1), 1, 2, 3]));
      }
    }
  });
});
