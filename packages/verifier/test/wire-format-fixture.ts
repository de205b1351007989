import { readFileSync } from 'node:fs';
import { hexToBytes } from '@synddb/protocol';

/**
 * The golden vectors of packages/protocol/fixtures/wire-format.json
 * (docs/protocol.md#wire-format-vectors).
 */
interface WireFormatJson {
  keys: Record<'anvil0' | 'ones', { privkey: string; pubkey64: string; address: string }>;
  v1_cose_message: {
    inputs: { sequence: number; timestamp: number; message_type: 0 | 1 | 2; payload_utf8: string };
    protected_header: string;
    keccak256_sig_structure: string;
    signature: string;
    cose_sign1: string;
  };
  v1n_high_s: { signature_high_s: string };
  v2_batch_single: {
    inputs: { start: number; end: number; created_at: number };
    content_hash_sha256: string;
    ecdsa_digest_keccak_of_signing_payload: string;
    batch_signature: string;
    batch_cbor: string;
  };
  v3_batch_three: {
    messages: string[];
    content_hash_sha256: string;
    batch_signature: string;
    batch_cbor: string;
  };
  v4_pipeline: {
    messages: Array<{
      sequence: number;
      timestamp: number;
      message_type: 0 | 1 | 2;
      payload_zstd: string;
      protected_header: string;
      signature: string;
      cose_sign1: string;
    }>;
    batch_signature: string;
    batch_cbor: string;
    batch_cbor_zstd: string;
  };
  v5_edge: { cose_empty_payload_seq_2pow32: string };
}

export const wire = JSON.parse(
  readFileSync(new URL('../../protocol/fixtures/wire-format.json', import.meta.url), 'utf8'),
) as WireFormatJson;

/** Hex (optionally 0x-prefixed) to bytes; throws on malformed fixture data. */
export function hex(value: string): Uint8Array {
  const bytes = hexToBytes(value.startsWith('0x') ? value.slice(2) : value);
  if (bytes === null) throw new Error(`bad fixture hex ${value.slice(0, 16)}`);
  return bytes;
}

export const ANVIL0_PUBKEY = hex(wire.keys.anvil0.pubkey64);
export const ONES_PUBKEY = hex(wire.keys.ones.pubkey64);

/** Copy with bit `bit` (0 = MSB of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 0x80 >> (bit & 7);
  return out;
}
