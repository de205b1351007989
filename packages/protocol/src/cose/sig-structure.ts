import { CborWriter } from '../cbor/cbor-writer';
import { keccak256 } from '../hash/keccak256';

/**
 * RFC 9052 Sig_structure for COSE_Sign1: ["Signature1", protected, h'' (external_aad), payload].
 * `protectedBytes` must be the header bytes exactly as received, never a re-encoding.
 */
export function buildSigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return new CborWriter()
    .arrayHeader(4)
    .text('Signature1')
    .bytes(protectedBytes)
    .bytes(new Uint8Array(0))
    .bytes(payload)
    .finish();
}

/**
 * The 32-byte prehash the sequencer signs: keccak256(Sig_structure)
 * (docs/protocol.md#signing-digest).
 */
export function messageSigningDigest(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return keccak256(buildSigStructure(protectedBytes, payload));
}
