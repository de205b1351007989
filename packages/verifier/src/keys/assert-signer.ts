import { SignerMismatchError } from '../errors';

const HEX = '0123456789abcdef';

/** Throws `SignerMismatchError` unless `actual` is byte-for-byte the trusted key. */
export function assertTrustedSigner(
  what: string,
  expected: Uint8Array,
  actual: Uint8Array,
  sequence?: bigint,
): void {
  if (actual.length === expected.length) {
    let same = true;
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) {
        same = false;
        break;
      }
    }
    if (same) return;
  }
  throw new SignerMismatchError(what, toHex(expected), toHex(actual), sequence);
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b >> 4]! + HEX[b & 15]!;
  return out;
}
