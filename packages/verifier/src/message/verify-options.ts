import type { Secp256k1Backend } from '../backend/types';

export interface VerifyMessageOptions {
  /** The trusted 64-byte X||Y sequencer key (e.g. from `parseSequencerPubkey`). */
  expectedPubkey: Uint8Array;
  /** Defaults to `defaultBackend()` (native when available). */
  backend?: Secp256k1Backend;
  /**
   * Also require the protected header to be in the byte layout coset re-encodes to, as the Rust
   * validator effectively does (docs/protocol.md#protected-header-normalization). Default false:
   * the signature over the original bytes is what matters, and the real sequencer always writes the
   * normalized form.
   */
  requireNormalizedHeader?: boolean;
}
