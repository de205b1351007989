import { keccak256 } from '@synddb/protocol';
import { LITTLE_ENDIAN, LTHASH_BYTES, LTHASH_LANES } from './lanes';
import { elementLaneBatch, elementXof } from './state-root-kernel';

export { LTHASH_BYTES, LTHASH_LANES } from './lanes';

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

  /**
   * Adds one element (its canonical bytes), through this thread's batch: a native kernel adds
   * the element's lanes to these in place (no lane loop in JavaScript).
   */
  add(element: Uint8Array): void {
    const batch = elementLaneBatch();
    batch.add(element, false);
    batch.finish(this.lanes);
  }

  /** Removes one element. */
  remove(element: Uint8Array): void {
    const batch = elementLaneBatch();
    batch.add(element, true);
    batch.finish(this.lanes);
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
