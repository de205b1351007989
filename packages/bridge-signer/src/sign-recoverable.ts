import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BridgeSignerInputError } from './errors';

/**
 * 65-byte `r || s || v` over a 32-byte `digest`, deterministic (RFC 6979), low-S, `v` = 27/28:
 * what `ecrecover` and OpenZeppelin's `ECDSA.recover` accept (docs/protocol.md#bridge-digests).
 */
export function signRecoverable(digest: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (digest.length !== 32) {
    throw new BridgeSignerInputError('Digest must be 32 bytes', `got ${digest.length} bytes`);
  }
  // noble's 'recovered' format is recovery-id || r || s.
  const recovered = secp256k1.sign(digest, secretKey, {
    prehash: false,
    lowS: true,
    format: 'recovered',
  });
  const out = new Uint8Array(65);
  out.set(recovered.subarray(1), 0);
  out[64] = 27 + recovered[0]!;
  return out;
}
