import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSyndDBError } from '../errors';
import { type CborSplitRoute, CborStreamSplitter } from './cbor-stream-splitter';
import { decodeCbor } from './decode-cbor';
import { encodeCbor } from './encode-cbor';
import type { CborValue } from './value';

const budget = (max = 1 << 20) => ({
  used: 0,
  max,
  tooLarge: () => new Error('over budget'),
});

async function split(
  input: Uint8Array,
  route: (
    frames: readonly { map: boolean; index: number; key: string | undefined }[],
  ) => CborSplitRoute | undefined = () => undefined,
  chunk = 3,
): Promise<Uint8Array> {
  const splitter = new CborStreamSplitter({ budget: budget(), route, maxDepth: 4 });
  for (let at = 0; at < input.length; at += chunk)
    await splitter.push(input.subarray(at, at + chunk));
  return splitter.finish();
}

function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return isSyndDBError(error) ? error.code : String(error);
  }
}

async function outcomeAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (error) {
    return isSyndDBError(error) ? error.code : String(error);
  }
}

const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc
      .bigInt(0n, 2n ** 64n - 1n)
      .map((v) => ({ kind: 'uint', value: v, start: 0, end: 0 }) as CborValue),
    fc
      .bigInt(-(2n ** 64n), -1n)
      .map((v) => ({ kind: 'nint', value: v, start: 0, end: 0 }) as CborValue),
    fc
      .uint8Array({ maxLength: 40 })
      .map((v) => ({ kind: 'bytes', value: v, start: 0, end: 0 }) as CborValue),
    fc
      .string({ maxLength: 12 })
      .map((v) => ({ kind: 'text', value: v, start: 0, end: 0 }) as CborValue),
    fc.constant({ kind: 'null', start: 0, end: 0 } as CborValue),
    fc
      .array(tie('v'), { maxLength: 4 })
      .map((items) => ({ kind: 'array', items, start: 0, end: 0 }) as CborValue),
    fc
      .uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), tie('v')), {
        maxLength: 4,
        selector: ([k]) => k,
      })
      .map(
        (entries) =>
          ({
            kind: 'map',
            entries: entries.map(([k, v]) => ({
              key: { kind: 'text', value: k, start: 0, end: 0 },
              value: v,
            })),
            start: 0,
            end: 0,
          }) as CborValue,
      ),
  ),
})).v;

describe('CborStreamSplitter', () => {
  it('keeps every byte when nothing is routed, and rejects what decodeCbor rejects, with its error', async () => {
    await fc.assert(
      fc.asyncProperty(
        value,
        fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 9 }),
        async (v, edits, chunk) => {
          const bytes = encodeCbor(v).slice();
          for (const { at, byte } of edits) bytes[at % bytes.length] = byte;
          const expected = outcome(() => decodeCbor(bytes, { maxDepth: 4 }));
          let skeleton: Uint8Array | undefined;
          const actual = await outcomeAsync(async () => {
            skeleton = await split(bytes, undefined, chunk);
          });
          // A count or length past the end is only known at the end while streaming.
          if (expected === 'CBOR_UNEXPECTED_END' && actual !== 'ok') return;
          expect(actual).toBe(expected);
          if (actual === 'ok') expect(skeleton).toEqual(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reports a container past the depth limit as such, even with a count past 2^53', async () => {
    // maxDepth 4: four arrays deep, then a map (and an array) with an 8-byte count. decodeCbor
    // checks the depth first; the splitter used to call the count a truncation first.
    for (const head of [0xbb, 0x9b]) {
      const bytes = Uint8Array.of(0x81, 0x81, 0x81, 0x81, head, 0x73, 0x0a, 0x61, 0x65, 0, 0, 0, 1);
      expect(outcome(() => decodeCbor(bytes, { maxDepth: 4 }))).toBe('CBOR_NESTING_DEPTH');
      for (const chunk of [1, 3, 13]) {
        expect(await outcomeAsync(() => split(bytes, undefined, chunk))).toBe('CBOR_NESTING_DEPTH');
      }
      // Within the limit the same count is a truncation on both sides.
      const shallow = bytes.subarray(3);
      expect(outcome(() => decodeCbor(shallow, { maxDepth: 4 }))).toBe('CBOR_UNEXPECTED_END');
      expect(await outcomeAsync(() => split(shallow))).toBe('CBOR_UNEXPECTED_END');
    }
  });

  it('sends routed byte strings to their sink and leaves an empty one in their place', async () => {
    const big = new Uint8Array(1000).fill(7);
    const input = encodeCbor({
      kind: 'map',
      start: 0,
      end: 0,
      entries: [
        {
          key: { kind: 'text', value: 'a', start: 0, end: 0 },
          value: { kind: 'bytes', value: big, start: 0, end: 0 },
        },
        {
          key: { kind: 'text', value: 'b', start: 0, end: 0 },
          value: { kind: 'bytes', value: big, start: 0, end: 0 },
        },
      ],
    });
    const received: Uint8Array[] = [];
    let ended = 0;
    const skeleton = await split(input, (frames) =>
      frames.length === 1 && frames[0]!.key === 'b'
        ? { sink: (c) => void received.push(c.slice()), end: () => void ended++ }
        : undefined,
    );
    expect(Buffer.concat(received)).toEqual(Buffer.from(big));
    expect(ended).toBe(1);
    const decoded = decodeCbor(skeleton);
    expect(decoded.kind === 'map' && decoded.entries.map((e) => e.value)).toMatchObject([
      { kind: 'bytes', value: big },
      { kind: 'bytes', value: new Uint8Array(0) },
    ]);
  });

  it('refuses a kept string past the budget at its head', async () => {
    const splitter = new CborStreamSplitter({ budget: budget(100), route: () => undefined });
    await expect(splitter.push(Uint8Array.of(0x59, 0x10, 0x00))).rejects.toThrow('over budget');
  });
});
