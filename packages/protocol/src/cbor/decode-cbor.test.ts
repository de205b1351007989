import { describe, expect, it } from 'vitest';
import { CborWriter } from './cbor-writer';
import { decodeCbor } from './decode-cbor';
import { encodeCbor } from './encode-cbor';
import {
  CborDecodeError,
  CborNestingDepthError,
  CborNonMinimalError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from './errors';

const b = (...bytes: number[]) => new Uint8Array(bytes);

describe('decodeCbor', () => {
  it('decodes the supported subset with offsets', () => {
    const input = new CborWriter()
      .mapHeader(3)
      .int(1)
      .int(-47)
      .text('k')
      .arrayHeader(2)
      .bytes(b(1, 2))
      .null()
      .int(-65537)
      .uint((1n << 64n) - 1n)
      .finish();
    const v = decodeCbor(input);
    expect(v.kind).toBe('map');
    if (v.kind !== 'map') return;
    expect(v.entries.map((e) => e.key.value)).toEqual([1n, 'k', -65537n]);
    expect(v.entries[0]!.value).toMatchObject({ kind: 'nint', value: -47n, start: 2, end: 4 });
    expect(v.entries[2]!.value).toMatchObject({ kind: 'uint', value: 18446744073709551615n });
    expect(v.start).toBe(0);
    expect(v.end).toBe(input.length);
    expect(encodeCbor(v)).toEqual(input);
  });

  it('returns byte strings as views into the input', () => {
    const input = b(0x42, 7, 8);
    const v = decodeCbor(input);
    if (v.kind !== 'bytes') throw new Error('expected bytes');
    expect(v.value.buffer).toBe(input.buffer);
    expect([...v.value]).toEqual([7, 8]);
  });

  it('rejects trailing bytes', () => {
    expect(() => decodeCbor(b(0x01, 0x02))).toThrow(TrailingBytesError);
  });

  it('rejects empty input and truncation', () => {
    expect(() => decodeCbor(b())).toThrow(CborUnexpectedEndError);
    expect(() => decodeCbor(b(0x19, 0x01))).toThrow(CborUnexpectedEndError);
    expect(() => decodeCbor(b(0x82, 0x01))).toThrow(CborUnexpectedEndError);
  });

  it('rejects declared lengths beyond the input before allocating', () => {
    // bstr claiming 2^40 bytes, array claiming 2^62 items, map claiming 2^63 entries, text 4 GiB
    for (const input of [
      b(0x5b, 0, 0, 1, 0, 0, 0, 0, 0, 0xaa),
      b(0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01),
      b(0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01),
      b(0x7a, 0xff, 0xff, 0xff, 0xff, 0x61),
    ]) {
      const error = (() => {
        try {
          decodeCbor(input);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(CborUnexpectedEndError);
      expect((error as CborUnexpectedEndError).code).toBe('CBOR_UNEXPECTED_END');
    }
  });

  it('rejects non-minimal heads', () => {
    expect(() => decodeCbor(b(0x18, 0x17))).toThrow(CborNonMinimalError);
    expect(() => decodeCbor(b(0x19, 0x00, 0xff))).toThrow(CborNonMinimalError);
    expect(() => decodeCbor(b(0x1a, 0, 0, 0xff, 0xff))).toThrow(CborNonMinimalError);
    expect(() => decodeCbor(b(0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff))).toThrow(
      CborNonMinimalError,
    );
    expect(() => decodeCbor(b(0x58, 0x01, 0xaa))).toThrow(CborNonMinimalError);
  });

  it('rejects tags, floats, booleans, undefined, indefinite lengths and reserved info', () => {
    for (const input of [
      b(0xd2, 0x80),
      b(0xc2, 0x41, 0x01),
      b(0xf9, 0, 0),
      b(0xfb, 0, 0, 0, 0, 0, 0, 0, 0),
      b(0xf5),
      b(0xf7),
      b(0x5f, 0xff),
      b(0x9f, 0xff),
      b(0xff),
      b(0xf8, 0x20),
    ]) {
      expect(() => decodeCbor(input), `input ${Buffer.from(input).toString('hex')}`).toThrow(
        CborUnsupportedItemError,
      );
    }
    expect(() => decodeCbor(b(0x1c))).toThrow(CborDecodeError);
  });

  it('rejects duplicate map keys', () => {
    expect(() => decodeCbor(b(0xa2, 0x01, 0x00, 0x01, 0x00))).toThrow(DuplicateMapKeyError);
    expect(() => decodeCbor(b(0xa2, 0x61, 0x61, 0x00, 0x61, 0x61, 0x01))).toThrow(
      DuplicateMapKeyError,
    );
    // 1 and -1 are different keys; "1" and 1 as well.
    expect(() => decodeCbor(b(0xa3, 0x01, 0x00, 0x20, 0x00, 0x61, 0x31, 0x00))).not.toThrow();
  });

  it('rejects map keys that are not ints or text', () => {
    expect(() => decodeCbor(b(0xa1, 0x41, 0x00, 0x00))).toThrow(CborUnsupportedItemError);
    expect(() => decodeCbor(b(0xa1, 0xf6, 0x00))).toThrow(CborUnsupportedItemError);
  });

  it('rejects invalid UTF-8 but keeps a BOM', () => {
    expect(() => decodeCbor(b(0x62, 0xc3, 0x28))).toThrow(CborDecodeError);
    const v = decodeCbor(b(0x63, 0xef, 0xbb, 0xbf));
    expect(v.kind === 'text' && v.value).toBe('\ufeff');
  });

  it('bounds nesting depth', () => {
    const deep = new Uint8Array(20).fill(0x81);
    const input = new Uint8Array([...deep, 0x00]);
    expect(() => decodeCbor(input)).toThrow(CborNestingDepthError);
    expect(() => decodeCbor(input, { maxDepth: 20 })).not.toThrow();
    expect(() => decodeCbor(b(0x81, 0x81, 0x00), { maxDepth: 1 })).toThrow(CborNestingDepthError);
  });

  it('survives 100k-deep nesting without a stack overflow', () => {
    const input = new Uint8Array(100_001).fill(0x81);
    input[100_000] = 0;
    expect(() => decodeCbor(input)).toThrow(CborNestingDepthError);
  });

  it('errors carry offsets', () => {
    try {
      decodeCbor(b(0x82, 0x01, 0x18, 0x05));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CborNonMinimalError);
      expect((e as CborNonMinimalError).offset).toBe(2);
      expect((e as CborNonMinimalError).details).toContain('offset 2');
    }
  });
});
