import { createRequire } from 'node:module';
import { keccak256 } from '@synddb/protocol';

/** Lanes of the LtHash16 state: 1024 lanes of 16 bits (2048 bytes), as in the LtHash paper. */
export const LTHASH_LANES = 1024;
/** Bytes of an LtHash16 state and of one element's hash (the XOF's output length). */
export const LTHASH_BYTES = LTHASH_LANES * 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * BLAKE3 (the reference Rust implementation compiled to WebAssembly, `blake3-wasm` 2.1.5): its
 * Node binding loads the module synchronously, and `hash(input, out)` fills `out` with as many
 * XOF bytes as it is long. Pinned: the package's later 3.0.0 depends on a version of its
 * internals that was never published and does not install.
 */
const blake3: { hash(input: Uint8Array, out: Uint8Array): void } = createRequire(import.meta.url)(
  'blake3-wasm/dist/wasm/nodejs/blake3_js.js',
);
const XOF_OUT = new Uint8Array(LTHASH_BYTES);

/**
 * The element's 2048 XOF bytes: BLAKE3 of its bytes in XOF mode (the first 2048 bytes of its
 * extended output). Returns one buffer of this thread, overwritten by the next call.
 */
export function elementXof(element: Uint8Array): Uint8Array {
  blake3.hash(element, XOF_OUT);
  return XOF_OUT;
}

/**
 * The element hash: BLAKE3 XOF of the element's bytes, 2048 bytes read as 1024 little-endian
 * 16-bit lanes. Written into `out` (a fresh array when absent).
 */
export function hashElement(element: Uint8Array, out = new Uint16Array(LTHASH_LANES)): Uint16Array {
  const digest = elementXof(element);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, LTHASH_BYTES).set(digest);
  } else {
    for (let i = 0; i < LTHASH_LANES; i++) out[i] = digest[2 * i]! | (digest[2 * i + 1]! << 8);
  }
  return out;
}

/**
 * Adds (or subtracts) an XOF output's 1024 little-endian lanes to `lanes`, mod 2^16 per lane,
 * straight from the digest bytes (no copy into a lane array first).
 */
export function addDigestLanes(lanes: Uint16Array, digest: Uint8Array, subtract: boolean): void {
  if (LITTLE_ENDIAN && (digest.byteOffset & 1) === 0) {
    const d = new Uint16Array(digest.buffer, digest.byteOffset, LTHASH_LANES);
    if (subtract) for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! - d[i]!;
    else for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! + d[i]!;
    return;
  }
  for (let i = 0; i < LTHASH_LANES; i++) {
    const x = digest[2 * i]! | (digest[2 * i + 1]! << 8);
    lanes[i] = subtract ? lanes[i]! - x : lanes[i]! + x;
  }
}

/**
 * LtHash16 (Lewi, Kim, Maykov, Weis: "Securing Update Propagation with Homomorphic Hashing",
 * 2019): the hash of a multiset is the lane-wise sum mod 2^16 of its elements' hashes. Adding and
 * removing elements commute, so the state after any sequence of changes depends only on the
 * resulting multiset. `digest()` (keccak256 of the 2048 state bytes) is the 32-byte state root.
 */
export class LtHash16 {
  readonly lanes: Uint16Array;

  constructor(lanes?: Uint16Array) {
    this.lanes = new Uint16Array(LTHASH_LANES);
    if (lanes !== undefined) this.set(lanes);
  }

  /** A state from its 2048 stored bytes (little-endian lanes). */
  static fromBytes(bytes: Uint8Array): LtHash16 {
    if (bytes.byteLength !== LTHASH_BYTES) {
      throw new RangeError(`an LtHash16 state is ${LTHASH_BYTES} bytes, got ${bytes.byteLength}`);
    }
    const h = new LtHash16();
    if (LITTLE_ENDIAN) new Uint8Array(h.lanes.buffer).set(bytes);
    else
      for (let i = 0; i < LTHASH_LANES; i++) h.lanes[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
    return h;
  }

  /** The 2048 state bytes (little-endian lanes), for storage. */
  toBytes(): Uint8Array {
    if (LITTLE_ENDIAN) return new Uint8Array(this.lanes.buffer.slice(0));
    const out = new Uint8Array(LTHASH_BYTES);
    for (let i = 0; i < LTHASH_LANES; i++) {
      out[2 * i] = this.lanes[i]! & 0xff;
      out[2 * i + 1] = this.lanes[i]! >>> 8;
    }
    return out;
  }

  set(lanes: Uint16Array): void {
    if (lanes.length !== LTHASH_LANES) throw new RangeError('an LtHash16 state has 1024 lanes');
    this.lanes.set(lanes);
  }

  /** Adds one element (its canonical bytes). */
  add(element: Uint8Array): void {
    addDigestLanes(this.lanes, elementXof(element), false);
  }

  /** Removes one element. */
  remove(element: Uint8Array): void {
    addDigestLanes(this.lanes, elementXof(element), true);
  }

  addLanes(other: Uint16Array): void {
    const a = this.lanes;
    for (let i = 0; i < LTHASH_LANES; i++) a[i] = a[i]! + other[i]!;
  }

  subtractLanes(other: Uint16Array): void {
    const a = this.lanes;
    for (let i = 0; i < LTHASH_LANES; i++) a[i] = a[i]! - other[i]!;
  }

  equals(other: LtHash16): boolean {
    for (let i = 0; i < LTHASH_LANES; i++) if (this.lanes[i] !== other.lanes[i]) return false;
    return true;
  }

  /** The 32-byte state root: keccak256 of the 2048 state bytes. */
  digest(): Uint8Array {
    return keccak256(this.toBytes());
  }
}
