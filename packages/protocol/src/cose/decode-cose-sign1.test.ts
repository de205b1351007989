import { describe, expect, it } from 'vitest';
import { ANVIL0_PUBKEY, hex, vectors } from '../../test/vectors';
import { CborWriter } from '../cbor/cbor-writer';
import {
  CborNonMinimalError,
  CborUnexpectedEndError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from '../cbor/errors';
import {
  IntegerRangeError,
  InvalidLengthError,
  InvalidMessageTypeError,
  SyndDBError,
} from '../errors';
import { decodeCoseSign1 } from './decode-cose-sign1';
import { encodeCoseSign1 } from './encode-cose-sign1';
import { CoseStructureError, UnsupportedAlgorithmError } from './errors';
import { encodeProtectedHeader, isNormalizedProtectedHeader } from './protected-header';

const valid = hex(vectors.v1_cose_message.cose_sign1);
const signature = hex(vectors.v1_cose_message.signature);
const payload = new TextEncoder().encode('test payload');

/** A COSE message whose protected header map is given as raw label/value writers. */
function withProtected(write: (w: CborWriter) => void): Uint8Array {
  const w = new CborWriter();
  write(w);
  return encodeCoseSign1({ protectedBytes: w.finish(), pubkey: ANVIL0_PUBKEY, payload, signature });
}

function standardHeader(overrides: { alg?: number; seq?: bigint | number; type?: number } = {}) {
  return (w: CborWriter) =>
    w
      .mapHeader(4)
      .int(1)
      .int(overrides.alg ?? -47)
      .int(-65537)
      .int(overrides.seq ?? 42)
      .int(-65538)
      .int(1700000000)
      .int(-65539)
      .int(overrides.type ?? 0);
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('decodeCoseSign1 rejects', () => {
  it('tag 18 (tagged COSE_Sign1)', () => {
    const tagged = new Uint8Array([0xd2, ...valid]);
    const e = caught(() => decodeCoseSign1(tagged));
    expect(e).toBeInstanceOf(CoseStructureError);
    expect((e as CoseStructureError).code).toBe('COSE_STRUCTURE');
  });

  it('trailing bytes', () => {
    expect(() => decodeCoseSign1(new Uint8Array([...valid, 0x00]))).toThrow(TrailingBytesError);
  });

  it('truncation at every offset', () => {
    for (let n = 0; n < valid.length; n++) {
      const e = caught(() => decodeCoseSign1(valid.subarray(0, n)));
      expect(e, `length ${n}`).toBeInstanceOf(SyndDBError);
    }
  });

  it('a top-level item that is not array(4)', () => {
    expect(() => decodeCoseSign1(new Uint8Array([0x83, 0x40, 0xa0, 0x40]))).toThrow(
      CoseStructureError,
    );
    expect(() => decodeCoseSign1(new Uint8Array([0xa0]))).toThrow(CoseStructureError);
  });

  it('wrong alg, text alg, missing alg', () => {
    expect(() => decodeCoseSign1(withProtected(standardHeader({ alg: -7 })))).toThrow(
      UnsupportedAlgorithmError,
    );
    expect(() =>
      decodeCoseSign1(
        withProtected((w) =>
          w
            .mapHeader(4)
            .int(1)
            .text('ES256K')
            .int(-65537)
            .int(1)
            .int(-65538)
            .int(1)
            .int(-65539)
            .int(0),
        ),
      ),
    ).toThrow(UnsupportedAlgorithmError);
    expect(() =>
      decodeCoseSign1(
        withProtected((w) =>
          w.mapHeader(3).int(-65537).int(1).int(-65538).int(1).int(-65539).int(0),
        ),
      ),
    ).toThrow(CoseStructureError);
  });

  it('message type 3, 256 and -1', () => {
    expect(() => decodeCoseSign1(withProtected(standardHeader({ type: 3 })))).toThrow(
      InvalidMessageTypeError,
    );
    // Rust would wrap 256 to 0 (as u8); we refuse.
    expect(() => decodeCoseSign1(withProtected(standardHeader({ type: 256 })))).toThrow(
      InvalidMessageTypeError,
    );
    expect(() => decodeCoseSign1(withProtected(standardHeader({ type: -1 })))).toThrow(
      InvalidMessageTypeError,
    );
  });

  it('negative sequence (Rust would wrap it with `as u64`)', () => {
    const e = caught(() => decodeCoseSign1(withProtected(standardHeader({ seq: -1 }))));
    expect(e).toBeInstanceOf(IntegerRangeError);
    expect((e as IntegerRangeError).value).toBe(-1n);
  });

  it('non-integer header values and extra labels', () => {
    expect(() =>
      decodeCoseSign1(
        withProtected((w) =>
          w
            .mapHeader(4)
            .int(1)
            .int(-47)
            .int(-65537)
            .text('1')
            .int(-65538)
            .int(1)
            .int(-65539)
            .int(0),
        ),
      ),
    ).toThrow(CoseStructureError);
    expect(() =>
      decodeCoseSign1(
        withProtected((w) =>
          w
            .mapHeader(5)
            .int(1)
            .int(-47)
            .int(-65537)
            .int(1)
            .int(-65538)
            .int(1)
            .int(-65539)
            .int(0)
            .int(4)
            .bytes(new Uint8Array(1)),
        ),
      ),
    ).toThrow(CoseStructureError);
  });

  it('duplicate labels in the protected header', () => {
    const e = caught(() =>
      decodeCoseSign1(
        withProtected((w) =>
          w.mapHeader(4).int(1).int(-47).int(-65537).int(1).int(-65537).int(2).int(-65539).int(0),
        ),
      ),
    );
    expect(e).toBeInstanceOf(CoseStructureError);
    expect((e as CoseStructureError).cause).toBeInstanceOf(DuplicateMapKeyError);
  });

  it('a protected header that is not a map, or has trailing bytes', () => {
    expect(() => decodeCoseSign1(withProtected((w) => w.arrayHeader(0)))).toThrow(
      CoseStructureError,
    );
    expect(() => decodeCoseSign1(withProtected((w) => standardHeader()(w).uint(0)))).toThrow(
      CoseStructureError,
    );
  });

  it('non-minimal encodings inside the message', () => {
    // The payload bstr head re-encoded with a 2-byte length.
    const w = new CborWriter()
      .arrayHeader(4)
      .bytes(encodeProtectedHeader({ alg: -47, sequence: 1n, timestamp: 1n, messageType: 0 }))
      .mapHeader(1)
      .text('pubkey')
      .bytes(ANVIL0_PUBKEY)
      .append(new Uint8Array([0x59, 0x00, 0x01, 0xaa]))
      .bytes(signature);
    expect(() => decodeCoseSign1(w.finish())).toThrow(CborNonMinimalError);
  });

  it('wrong signature and pubkey lengths', () => {
    const build = (pk: Uint8Array, sig: Uint8Array) =>
      new CborWriter()
        .arrayHeader(4)
        .bytes(encodeProtectedHeader({ alg: -47, sequence: 1n, timestamp: 1n, messageType: 0 }))
        .mapHeader(1)
        .text('pubkey')
        .bytes(pk)
        .bytes(payload)
        .bytes(sig)
        .finish();
    const e1 = caught(() => decodeCoseSign1(build(ANVIL0_PUBKEY, signature.subarray(0, 63))));
    expect(e1).toBeInstanceOf(InvalidLengthError);
    expect(e1).toMatchObject({ field: 'signature', expected: 64, actual: 63 });
    const e2 = caught(() => decodeCoseSign1(build(new Uint8Array(65), signature)));
    expect(e2).toMatchObject({ field: 'pubkey', expected: 64, actual: 65 });
  });

  it('unprotected headers other than exactly {"pubkey": bstr}', () => {
    const build = (write: (w: CborWriter) => void) => {
      const w = new CborWriter()
        .arrayHeader(4)
        .bytes(encodeProtectedHeader({ alg: -47, sequence: 1n, timestamp: 1n, messageType: 0 }));
      write(w);
      return w.bytes(payload).bytes(signature).finish();
    };
    expect(() => decodeCoseSign1(build((w) => w.mapHeader(0)))).toThrow(CoseStructureError);
    expect(() =>
      decodeCoseSign1(build((w) => w.mapHeader(1).text('signer').bytes(ANVIL0_PUBKEY))),
    ).toThrow(CoseStructureError);
    expect(() =>
      decodeCoseSign1(build((w) => w.mapHeader(1).int(-1).bytes(ANVIL0_PUBKEY))),
    ).toThrow(CoseStructureError);
    expect(() => decodeCoseSign1(build((w) => w.mapHeader(1).text('pubkey').text('x')))).toThrow(
      CoseStructureError,
    );
    expect(() =>
      decodeCoseSign1(
        build((w) => w.mapHeader(2).text('pubkey').bytes(ANVIL0_PUBKEY).text('x').uint(1)),
      ),
    ).toThrow(CoseStructureError);
    expect(() => decodeCoseSign1(build((w) => w.arrayHeader(0)))).toThrow(CoseStructureError);
  });

  it('payload that is neither bstr nor nil; nil is accepted as empty', () => {
    const build = (write: (w: CborWriter) => void) => {
      const w = new CborWriter()
        .arrayHeader(4)
        .bytes(encodeProtectedHeader({ alg: -47, sequence: 1n, timestamp: 1n, messageType: 0 }))
        .mapHeader(1)
        .text('pubkey')
        .bytes(ANVIL0_PUBKEY);
      write(w);
      return w.bytes(signature).finish();
    };
    expect(() => decodeCoseSign1(build((w) => w.text('x')))).toThrow(CoseStructureError);
    expect(decodeCoseSign1(build((w) => w.null())).payload).toEqual(new Uint8Array(0));
  });

  it('a protected header that is not a bstr', () => {
    const w = new CborWriter()
      .arrayHeader(4)
      .mapHeader(0)
      .mapHeader(1)
      .text('pubkey')
      .bytes(ANVIL0_PUBKEY);
    expect(() => decodeCoseSign1(w.bytes(payload).bytes(signature).finish())).toThrow(
      CoseStructureError,
    );
  });

  it('oversized declared lengths', () => {
    const bomb = new Uint8Array([0x84, 0x5b, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3]);
    expect(() => decodeCoseSign1(bomb)).toThrow(CborUnexpectedEndError);
  });
});

describe('isNormalizedProtectedHeader', () => {
  it('accepts alg-first orders coset would reproduce, rejects others', () => {
    const reordered = new CborWriter()
      .mapHeader(4)
      .int(1)
      .int(-47)
      .int(-65538)
      .int(5)
      .int(-65537)
      .int(6)
      .int(-65539)
      .int(0)
      .finish();
    expect(isNormalizedProtectedHeader(reordered)).toBe(true);
    const algLast = new CborWriter()
      .mapHeader(4)
      .int(-65537)
      .int(6)
      .int(-65538)
      .int(5)
      .int(-65539)
      .int(0)
      .int(1)
      .int(-47)
      .finish();
    expect(isNormalizedProtectedHeader(algLast)).toBe(false);
    // ...yet it is a valid header for verification over the original bytes.
    expect(decodeCoseSign1(withProtected((w) => w.append(algLast))).header.sequence).toBe(6n);
  });

  it('false for invalid or non-minimal bytes', () => {
    expect(isNormalizedProtectedHeader(new Uint8Array([0xa0]))).toBe(false);
    expect(isNormalizedProtectedHeader(new Uint8Array([]))).toBe(false);
    const nonMinimal = new CborWriter()
      .mapHeader(4)
      .int(1)
      .int(-47)
      .int(-65537)
      .append(new Uint8Array([0x18, 0x01]))
      .int(-65538)
      .int(5)
      .int(-65539)
      .int(0)
      .finish();
    expect(isNormalizedProtectedHeader(nonMinimal)).toBe(false);
  });
});

describe('encodeProtectedHeader', () => {
  it('refuses values the wire cannot carry', () => {
    expect(() =>
      encodeProtectedHeader({ alg: -47, sequence: -1n, timestamp: 0n, messageType: 0 }),
    ).toThrow(IntegerRangeError);
    expect(() =>
      encodeProtectedHeader({ alg: -47, sequence: 1n << 64n, timestamp: 0n, messageType: 0 }),
    ).toThrow(IntegerRangeError);
    expect(() =>
      encodeProtectedHeader({ alg: -7, sequence: 0n, timestamp: 0n, messageType: 0 }),
    ).toThrow(UnsupportedAlgorithmError);
    expect(() =>
      encodeProtectedHeader({
        alg: -47,
        sequence: 0n,
        timestamp: 0n,
        messageType: 3 as unknown as 0,
      }),
    ).toThrow(InvalidMessageTypeError);
  });
});
