import { describe, expect, it } from 'vitest';
import { hex, vectors } from '../../test/vectors';
import { decodeCoseSign1 } from '../cose/decode-cose-sign1';
import { encodeProtectedHeader } from '../cose/protected-header';
import { signedMessageFromCose } from '../cose/signed-message-from-cose';
import { IntegerRangeError, InvalidMessageTypeError } from '../errors';
import { HeaderMismatchError, SignedMessageJsonError } from './errors';
import {
  parseSignedMessageJson,
  signedMessageFromJson,
  signedMessageToJson,
} from './signed-message-json';

const message = signedMessageFromCose(decodeCoseSign1(hex(vectors.v1_cose_message.cose_sign1)));
const json = signedMessageToJson(message);

describe('SignedMessage JSON', () => {
  it('serializes in serde order and compact form', () => {
    expect(
      json.startsWith(
        '{"sequence":42,"timestamp":1700000000,"message_type":{"type":"changeset"},"payload":[116,101,',
      ),
    ).toBe(true);
    expect(json).toContain(
      `"message_hash":"0x${vectors.v1_cose_message.message_hash_keccak256_payload}"`,
    );
    expect(json).toContain(`"signature":"0x${vectors.v1_cose_message.signature}"`);
    expect(json).toContain(`"signer":"0x${vectors.keys.anvil0.pubkey64}"`);
    expect(
      json.endsWith(
        `"cose_protected_header":[${[...hex(vectors.v1_cose_message.protected_header)].join(',')}]}`,
      ),
    ).toBe(true);
  });

  it('round-trips through JSON.parse and through the exact parser', () => {
    expect(signedMessageFromJson(JSON.parse(json))).toEqual(message);
    expect(parseSignedMessageJson(json)).toEqual(message);
  });

  it('keeps u64 values above 2^53 exact', () => {
    const seq = (1n << 64n) - 1n;
    const big = {
      ...message,
      sequence: seq,
      coseProtectedHeader: encodeProtectedHeader({
        alg: -47,
        sequence: seq,
        timestamp: 1700000000n,
        messageType: 0,
      }),
    };
    const text = signedMessageToJson(big);
    expect(parseSignedMessageJson(text).sequence).toBe(seq);
    expect(() => signedMessageFromJson(JSON.parse(text))).toThrow(SignedMessageJsonError);
    expect(() =>
      parseSignedMessageJson(text.replace('18446744073709551615', '18446744073709551616')),
    ).toThrow(IntegerRangeError);
  });

  it('rejects malformed fields with typed errors', () => {
    const base = JSON.parse(json);
    const cases: [Record<string, unknown>, unknown][] = [
      [{ sequence: -1 }, IntegerRangeError],
      [{ sequence: 1.5 }, SignedMessageJsonError],
      [{ sequence: '42' }, SignedMessageJsonError],
      [{ message_type: { type: 'other' } }, InvalidMessageTypeError],
      [{ message_type: 'changeset' }, SignedMessageJsonError],
      [{ payload: [256] }, SignedMessageJsonError],
      [{ payload: 'abc' }, SignedMessageJsonError],
      [{ signature: vectors.v1_cose_message.signature }, SignedMessageJsonError],
      [{ signature: '0x1234' }, SignedMessageJsonError],
      [{ signer: `0x${'zz'.repeat(64)}` }, SignedMessageJsonError],
      [{ message_hash: null }, SignedMessageJsonError],
      [{ timestamp: 1 }, HeaderMismatchError],
      [{ sequence: 43 }, HeaderMismatchError],
      [{ message_type: { type: 'snapshot' } }, HeaderMismatchError],
    ];
    for (const [patch, errorClass] of cases) {
      expect(() => signedMessageFromJson({ ...base, ...patch }), JSON.stringify(patch)).toThrow(
        errorClass as new () => Error,
      );
    }
    expect(() => signedMessageFromJson([])).toThrow(SignedMessageJsonError);
    expect(() => parseSignedMessageJson('{')).toThrow(SignedMessageJsonError);
  });

  it('ignores unknown fields and accepts uppercase hex', () => {
    const base = JSON.parse(json);
    const m = signedMessageFromJson({
      ...base,
      extra: 1,
      signer: base.signer.toUpperCase().replace('0X', '0x'),
    });
    expect(m.signer).toEqual(message.signer);
  });
});
