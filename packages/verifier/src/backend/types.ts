/**
 * A secp256k1 ECDSA verifier over a 32-byte prehash (the keccak digest), with the SyndDB rules:
 * 64-byte r||s, r and s in [1, n-1], low-S mandatory (s <= n/2), 64-byte X||Y key that must be a
 * point on the curve. Every backend accepts and rejects exactly the same inputs; malformed input
 * yields `false`, never an exception.
 */
export interface Secp256k1Backend {
  readonly name: 'native' | 'noble';
  verify(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean;
  /** true when `pubkey` is 64 bytes X||Y of a point on secp256k1. */
  isValidPublicKey(pubkey: Uint8Array): boolean;
  /**
   * Checks and prepares `pubkey` once for many verifications (the batch key).
   * Throws `InvalidPublicKeyError` when it is not a valid point.
   */
  bindPublicKey(pubkey: Uint8Array): PublicKeyVerifier;
}

/** A verifier bound to one public key. */
export interface PublicKeyVerifier {
  readonly backend: Secp256k1Backend['name'];
  /** The 64-byte X||Y key (a private copy). */
  readonly pubkey: Uint8Array;
  verify(signature: Uint8Array, digest: Uint8Array): boolean;
}
