import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, keccak256 } from '@synddb/protocol';
import { BridgeSignatureError } from './errors';

/** secp256k1 group order; the Bridge (OpenZeppelin ECDSA) rejects `s > n/2`. */
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_ORDER = CURVE_ORDER >> 1n;
const utf8 = new TextEncoder();

/** EIP-55 mixed-case checksum of a 20-byte address. */
export function checksumAddress(address: Uint8Array): `0x${string}` {
  const lower = bytesToHex(address);
  const hash = keccak256(utf8.encode(lower));
  let out = '0x';
  for (let i = 0; i < lower.length; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out as `0x${string}`;
}

/** The EVM address of an uncompressed (65-byte, `04`-prefixed) public key: keccak(x‖y)[12..]. */
export function addressFromPublicKey(publicKey: Uint8Array): `0x${string}` {
  return checksumAddress(keccak256(publicKey.subarray(1)).subarray(12));
}

function bigintFrom(bytes: Uint8Array): bigint {
  return BigInt(`0x${bytesToHex(bytes)}`);
}

/**
 * The address that signed `digest` with a 65-byte `r || s || v` signature, applying the Bridge's
 * rules (OpenZeppelin ECDSA): exactly 65 bytes, `v` 27 or 28, `0 < r < n`, `0 < s <= n/2`.
 * Throws `BridgeSignatureError` for any signature the Bridge would reject.
 */
export function recoverSignerAddress(digest: Uint8Array, signature: Uint8Array): `0x${string}` {
  if (signature.length !== 65) {
    throw new BridgeSignatureError('Signature must be 65 bytes (r || s || v)', {
      details: `got ${signature.length} bytes`,
    });
  }
  const v = signature[64]!;
  if (v !== 27 && v !== 28) {
    throw new BridgeSignatureError('Signature v must be 27 or 28', { details: `v=${v}` });
  }
  const r = bigintFrom(signature.subarray(0, 32));
  const s = bigintFrom(signature.subarray(32, 64));
  if (r === 0n || r >= CURVE_ORDER) {
    throw new BridgeSignatureError('Signature r is out of range');
  }
  if (s === 0n || s > HALF_ORDER) {
    throw new BridgeSignatureError('Signature s is not in the lower half of the curve order');
  }
  const recovered = new Uint8Array(65);
  recovered[0] = v - 27;
  recovered.set(signature.subarray(0, 64), 1);
  let publicKey: Uint8Array;
  try {
    publicKey = secp256k1.recoverPublicKey(recovered, digest, { prehash: false });
  } catch (cause) {
    throw new BridgeSignatureError('Signature does not recover to a public key', { cause });
  }
  return addressFromPublicKey(secp256k1.Point.fromBytes(publicKey).toBytes(false));
}
