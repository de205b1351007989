/** Byte sizes of the wire forms (docs/protocol.md#signatures-and-keys). */
export const SIGNATURE_BYTES = 64;
export const DIGEST_BYTES = 32;
export const PUBKEY_BYTES = 64;

/** secp256k1 group order n, big-endian. */
const CURVE_ORDER = hexBytes('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
/** floor(n / 2): the largest s a low-S signature may carry. */
const HALF_CURVE_ORDER = hexBytes(
  '7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0',
);

/**
 * true when `signature` is 64 bytes r||s with r in [1, n-1] and s in [1, n/2]. This is the
 * signature-parsing rule shared by k256 (`from_slice` + `verify_prehashed`) and libsecp256k1
 * (`parse_compact` + `ecdsa_verify`), checked up front so every backend agrees by construction.
 */
export function hasCanonicalLowSScalars(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  if (isZero(signature, 0) || compareToConstant(signature, 0, CURVE_ORDER) >= 0) return false;
  if (isZero(signature, 32) || compareToConstant(signature, 32, HALF_CURVE_ORDER) > 0) return false;
  return true;
}

/** Compares the 32-byte big-endian integer at `bytes[offset..offset+32]` with `constant`. */
function compareToConstant(bytes: Uint8Array, offset: number, constant: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const a = bytes[offset + i]!;
    const b = constant[i]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

function isZero(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** 0x04 || X || Y: the SEC1 uncompressed form both libraries parse. */
export function toUncompressedSec1(pubkey: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + PUBKEY_BYTES);
  out[0] = 0x04;
  out.set(pubkey, 1);
  return out;
}
