import { describe, expect, it } from 'vitest';
import { IntegerRangeError } from '../errors';
import { CborWriter } from './cbor-writer';

const hexOf = (w: CborWriter) => Buffer.from(w.finish()).toString('hex');

describe('CborWriter', () => {
  it('writes minimal heads at every boundary', () => {
    expect(hexOf(new CborWriter().uint(23))).toBe('17');
    expect(hexOf(new CborWriter().uint(24))).toBe('1818');
    expect(hexOf(new CborWriter().uint(255))).toBe('18ff');
    expect(hexOf(new CborWriter().uint(256))).toBe('190100');
    expect(hexOf(new CborWriter().uint(65535))).toBe('19ffff');
    expect(hexOf(new CborWriter().uint(65536))).toBe('1a00010000');
    expect(hexOf(new CborWriter().uint(0xffffffff))).toBe('1affffffff');
    expect(hexOf(new CborWriter().uint(0x100000000))).toBe('1b0000000100000000');
    expect(hexOf(new CborWriter().int(-47))).toBe('382e');
    expect(hexOf(new CborWriter().int(-65537))).toBe('3a00010000');
    expect(hexOf(new CborWriter().int(-(1n << 64n)))).toBe('3bffffffffffffffff');
  });

  it('refuses arguments outside u64', () => {
    expect(() => new CborWriter().uint(1n << 64n)).toThrow(IntegerRangeError);
    expect(() => new CborWriter().uint(-1)).toThrow(IntegerRangeError);
    expect(() => new CborWriter().int(-(1n << 64n) - 1n)).toThrow(IntegerRangeError);
  });

  it('handles large byte strings between small items', () => {
    const big = new Uint8Array(10_000).fill(7);
    const out = new CborWriter().arrayHeader(3).uint(1).bytes(big).text('é').finish();
    expect(out.length).toBe(1 + 1 + 3 + 10_000 + 3);
    expect(out[2]).toBe(0x59);
    expect(Buffer.from(out.subarray(out.length - 3)).toString('hex')).toBe('62c3a9');
  });

  it('returns a copy, never the caller buffer', () => {
    const big = new Uint8Array(5000);
    const w = new CborWriter().append(big);
    const out = w.finish();
    expect(out).not.toBe(big);
    expect(out).toEqual(big);
  });
});
