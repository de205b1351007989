import { keccak256, keccak256Parts } from '../hash/keccak256';

/** CBOR of array(4) and text(10) "Signature1": the fixed start of every Sig_structure. */
const PREFIX = Uint8Array.from([0x84, 0x6a, ...new TextEncoder().encode('Signature1')]);

/** Bytes of the CBOR head of a byte string of `length` bytes (shortest form, as ciborium). */
function bstrHeadLength(length: number): number {
  if (length < 24) return 1;
  if (length < 0x100) return 2;
  if (length < 0x1_0000) return 3;
  if (length <= 0xffff_ffff) return 5;
  return 9;
}

function writeBstrHead(out: Uint8Array, at: number, length: number): number {
  if (length < 24) {
    out[at] = 0x40 | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = 0x58;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x1_0000) {
    out[at] = 0x59;
    out[at + 1] = length >>> 8;
    out[at + 2] = length & 0xff;
    return at + 3;
  }
  if (length <= 0xffff_ffff) {
    out[at] = 0x5a;
    new DataView(out.buffer, out.byteOffset).setUint32(at + 1, length);
    return at + 5;
  }
  out[at] = 0x5b;
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(length));
  return at + 9;
}

/**
 * RFC 9052 Sig_structure for COSE_Sign1: ["Signature1", protected, h'' (external_aad), payload].
 * `protectedBytes` must be the header bytes exactly as received, never a re-encoding. Written in
 * one exact-size buffer (the same bytes as CborWriter would produce, without its per-call work).
 */
export function buildSigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(sigStructureLength(protectedBytes, payload));
  writeSigStructure(out, protectedBytes, payload);
  return out;
}

function sigStructureLength(protectedBytes: Uint8Array, payload: Uint8Array): number {
  return (
    PREFIX.length +
    bstrHeadLength(protectedBytes.length) +
    protectedBytes.length +
    1 +
    bstrHeadLength(payload.length) +
    payload.length
  );
}

function writeSigStructure(out: Uint8Array, protectedBytes: Uint8Array, payload: Uint8Array): void {
  out.set(PREFIX, 0);
  let at = writeBstrHead(out, PREFIX.length, protectedBytes.length);
  out.set(protectedBytes, at);
  at += protectedBytes.length;
  out[at++] = 0x40; // h'' (external_aad)
  at = writeBstrHead(out, at, payload.length);
  out.set(payload, at);
}

/** Payloads from this size are hashed in place (below it one buffer and one hash call is faster). */
const INCREMENTAL_FROM_BYTES = 64 * 1024;

/**
 * Where the Sig_structures of payloads under INCREMENTAL_FROM_BYTES are written to be hashed: one
 * buffer for the thread, not one per message (each a malloc'ed backing store to sweep later).
 */
let scratch = new Uint8Array(1024);

/**
 * The 32-byte prehash the sequencer signs: keccak256(Sig_structure)
 * (docs/protocol.md#signing-digest).
 */
export function messageSigningDigest(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  if (payload.length < INCREMENTAL_FROM_BYTES) {
    const length = sigStructureLength(protectedBytes, payload);
    if (length > scratch.length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length));
    writeSigStructure(scratch, protectedBytes, payload);
    return keccak256(scratch.subarray(0, length));
  }
  // A large payload (a snapshot: a whole database) is hashed where it lies, not copied.
  return keccak256Parts([sigStructureHead(protectedBytes, payload.length), payload]);
}

/**
 * The Sig_structure up to the payload's content: every byte before it, for a payload of
 * `payloadLength` bytes hashed as it streams past (`messageSigningDigest` = keccak256 of this
 * followed by the payload).
 */
export function sigStructureHead(protectedBytes: Uint8Array, payloadLength: number): Uint8Array {
  const head = new Uint8Array(
    PREFIX.length + bstrHeadLength(protectedBytes.length) + protectedBytes.length + 1 + 9,
  );
  head.set(PREFIX, 0);
  let at = writeBstrHead(head, PREFIX.length, protectedBytes.length);
  head.set(protectedBytes, at);
  at += protectedBytes.length;
  head[at++] = 0x40; // h'' (external_aad)
  at = writeBstrHead(head, at, payloadLength);
  return head.subarray(0, at);
}
