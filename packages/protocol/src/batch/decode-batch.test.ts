import { describe, expect, it } from 'vitest';
import { batchOf, message } from '../../test/builders';
import { ANVIL0_PUBKEY, hex, vectors } from '../../test/vectors';
import { CborWriter } from '../cbor/cbor-writer';
import { DuplicateMapKeyError, TrailingBytesError } from '../cbor/errors';
import { IntegerRangeError, InvalidLengthError } from '../errors';
import { decodeBatch } from './decode-batch';
import { encodeBatch } from './encode-batch';
import { BatchStructureError, UnsupportedBatchVersionError } from './errors';

type Entry = [string, (w: CborWriter) => void];

const h = new Uint8Array(32);
const sig = new Uint8Array(64);
const standard = (): Entry[] => [
  ['v', (w) => w.uint(1)],
  ['s', (w) => w.uint(0)],
  ['e', (w) => w.uint(0)],
  ['t', (w) => w.uint(1)],
  ['h', (w) => w.bytes(h)],
  ['m', (w) => w.arrayHeader(1).bytes(message(0n))],
  ['sig', (w) => w.bytes(sig)],
  ['pubkey', (w) => w.bytes(ANVIL0_PUBKEY)],
];

function build(entries: Entry[]): Uint8Array {
  const w = new CborWriter().mapHeader(entries.length);
  for (const [k, write] of entries) write(w.text(k));
  return w.finish();
}

function replace(key: string, write: (w: CborWriter) => void): Entry[] {
  return standard().map(([k, f]) => [k, k === key ? write : f]);
}

describe('decodeBatch', () => {
  it('accepts the 8 keys in any order', () => {
    const reversed = standard().reverse();
    const b = decodeBatch(build(reversed));
    expect(b.pubkey).toEqual(ANVIL0_PUBKEY);
    // ...and encodes back in serde's declaration order.
    expect(encodeBatch(b)).toEqual(build(standard()));
  });

  it('rejects missing and unknown keys', () => {
    expect(() => decodeBatch(build(standard().filter(([k]) => k !== 't')))).toThrow(
      BatchStructureError,
    );
    expect(() => decodeBatch(build([...standard(), ['x', (w) => w.uint(0)]]))).toThrow(
      BatchStructureError,
    );
    expect(() =>
      decodeBatch(build([...standard().slice(0, 7), ['pub', (w) => w.bytes(ANVIL0_PUBKEY)]])),
    ).toThrow(BatchStructureError);
  });

  it('rejects duplicate keys', () => {
    expect(() => decodeBatch(build([...standard(), ['s', (w) => w.uint(0)]]))).toThrow(
      DuplicateMapKeyError,
    );
  });

  it('rejects a version other than 1', () => {
    expect(() => decodeBatch(build(replace('v', (w) => w.uint(2))))).toThrow(
      UnsupportedBatchVersionError,
    );
    expect(() => decodeBatch(build(replace('v', (w) => w.uint(256))))).toThrow(IntegerRangeError);
  });

  it('rejects wrong lengths of h, sig and pubkey', () => {
    for (const [key, len] of [
      ['h', 31],
      ['h', 33],
      ['sig', 63],
      ['sig', 65],
      ['pubkey', 65],
      ['pubkey', 33],
    ] as const) {
      expect(
        () => decodeBatch(build(replace(key, (w) => w.bytes(new Uint8Array(len))))),
        `${key}:${len}`,
      ).toThrow(InvalidLengthError);
    }
  });

  it('rejects wrong types', () => {
    for (const [key, write] of [
      ['s', (w: CborWriter) => w.int(-1)],
      ['e', (w: CborWriter) => w.text('1')],
      ['t', (w: CborWriter) => w.null()],
      ['h', (w: CborWriter) => w.text('x')],
      ['m', (w: CborWriter) => w.bytes(new Uint8Array(1))],
      ['m', (w: CborWriter) => w.arrayHeader(1).text('x')],
      ['sig', (w: CborWriter) => w.arrayHeader(0)],
    ] as const) {
      expect(() => decodeBatch(build(replace(key, write))), key).toThrow(BatchStructureError);
    }
    expect(() => decodeBatch(new CborWriter().arrayHeader(0).finish())).toThrow(
      BatchStructureError,
    );
    expect(() => decodeBatch(new CborWriter().mapHeader(1).uint(1).uint(1).finish())).toThrow(
      BatchStructureError,
    );
  });

  it('rejects trailing bytes after the map', () => {
    const cbor = hex(vectors.v2_batch_single.batch_cbor);
    expect(() => decodeBatch(new Uint8Array([...cbor, 0]))).toThrow(TrailingBytesError);
  });

  it('rejects nesting inside m', () => {
    expect(() =>
      decodeBatch(build(replace('m', (w) => w.arrayHeader(1).arrayHeader(0)))),
    ).toThrow();
  });
});

describe('encodeBatch', () => {
  it('refuses wrong field lengths and versions', () => {
    const good = batchOf([message(0n)]);
    expect(() => encodeBatch({ ...good, contentHash: new Uint8Array(31) })).toThrow(
      InvalidLengthError,
    );
    expect(() => encodeBatch({ ...good, signature: new Uint8Array(1) })).toThrow(
      InvalidLengthError,
    );
    expect(() => encodeBatch({ ...good, pubkey: new Uint8Array(1) })).toThrow(InvalidLengthError);
    expect(() => encodeBatch({ ...good, version: 256 })).toThrow(IntegerRangeError);
  });
});
