import { keccak256 } from '@synddb/protocol';
import { BLAKE3_LTHASH_WASM_BASE64 } from './blake3-lthash-wasm';

/** Lanes of the LtHash16 state: 1024 lanes of 16 bits (2048 bytes), as in the LtHash paper. */
export const LTHASH_LANES = 1024;
/** Bytes of an LtHash16 state and of one element's hash (the XOF's output length). */
export const LTHASH_BYTES = LTHASH_LANES * 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The exports of `wasm/blake3-lthash.c` (see there and the README). */
interface Blake3LthashExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  __heap_base: { value: number };
  lthash_descriptors(): number;
  lthash_max_elements(): number;
  lthash_out(): number;
  lthash_xof(ptr: number, len: number): void;
  lthash_acc_reset(): void;
  lthash_acc_batch(base: number, count: number): void;
  lthash_acc_take(): void;
}

/** The WebAssembly global (the libraries' types here leave it out: no DOM lib). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { exports: unknown };
    };
  }
).WebAssembly;

/**
 * This thread's instance of the BLAKE3 kernel (`wasm/blake3-lthash.c`, WebAssembly with SIMD,
 * embedded in base64): compiled and instantiated synchronously on first use, one per thread
 * (each worker has its own). Its memory holds a fixed area (descriptors, lane sums, one output)
 * and, from `__heap_base` to the end, the input elements of a batch; it grows for elements
 * that do not fit.
 */
class Blake3Kernel {
  readonly x: Blake3LthashExports;
  readonly base: number;
  readonly maxElements: number;
  readonly descriptorsAt: number;
  readonly outAt: number;
  bytes!: Uint8Array;
  descriptors!: Uint32Array;

  constructor() {
    const module = new wasm.Module(Buffer.from(BLAKE3_LTHASH_WASM_BASE64, 'base64'));
    this.x = new wasm.Instance(module, {}).exports as Blake3LthashExports;
    this.base = this.x.__heap_base.value;
    this.maxElements = this.x.lthash_max_elements();
    this.descriptorsAt = this.x.lthash_descriptors();
    this.outAt = this.x.lthash_out();
    this.#views();
  }

  /** Makes the input area at least `bytes` long. */
  reserve(bytes: number): void {
    const need = this.base + bytes - this.x.memory.buffer.byteLength;
    if (need <= 0) return;
    this.x.memory.grow(Math.ceil(need / 65536));
    this.#views();
  }

  /** The last output (lthash_xof or lthash_acc_take): 2048 bytes, natural order. */
  out(): Uint8Array {
    return this.bytes.subarray(this.outAt, this.outAt + LTHASH_BYTES);
  }

  #views(): void {
    this.bytes = new Uint8Array(this.x.memory.buffer);
    this.descriptors = new Uint32Array(
      this.x.memory.buffer,
      this.descriptorsAt,
      2 * this.maxElements,
    );
  }
}

let kernelOfThread: Blake3Kernel | undefined;
const kernel = (): Blake3Kernel => (kernelOfThread ??= new Blake3Kernel());

const XOF_OUT = new Uint8Array(LTHASH_BYTES);

/**
 * The element's 2048 XOF bytes: BLAKE3 of its bytes in XOF mode (the first 2048 bytes of its
 * extended output). Returns one buffer of this thread, overwritten by the next call.
 */
export function elementXof(element: Uint8Array): Uint8Array {
  const k = kernel();
  k.reserve(element.byteLength);
  k.bytes.set(element, k.base);
  k.x.lthash_xof(k.base, element.byteLength);
  XOF_OUT.set(k.out());
  return XOF_OUT;
}

/**
 * Adds and subtracts many elements' hashes at once: `add` copies each element into the
 * kernel's memory, and the kernel hashes them a few thousand at a time (one call into
 * WebAssembly per batch) and sums their lanes itself; `finish` adds the sum to `lanes`. There is
 * one per thread (`elementLaneBatch()`); `begin` drops whatever an unfinished batch held (e.g.
 * one abandoned by an exception), so a batch must be finished before another begins.
 */
export class ElementLaneBatch {
  #k: Blake3Kernel;
  #count = 0;
  #used = 0;

  constructor(k: Blake3Kernel) {
    this.#k = k;
  }

  begin(): void {
    this.#k.x.lthash_acc_reset();
    this.#count = 0;
    this.#used = 0;
  }

  /** Queues one element (copied at once: `element` may be reused after the call). */
  add(element: Uint8Array, subtract: boolean): void {
    const k = this.#k;
    const n = element.byteLength;
    if (this.#count === k.maxElements || k.base + this.#used + n > k.bytes.byteLength) {
      this.#run();
      k.reserve(n);
    }
    k.bytes.set(element, k.base + this.#used);
    const d = 2 * this.#count++;
    k.descriptors[d] = this.#used;
    k.descriptors[d + 1] = subtract ? (n | 0x80000000) >>> 0 : n;
    this.#used += n;
  }

  /** Adds the batch's sum (mod 2^16 per lane) to `lanes` and empties the batch. */
  finish(lanes: Uint16Array): void {
    addDigestLanes(lanes, this.#take(), false);
    this.begin();
  }

  /** The batch's sum as a new lane array (a copy, no lane additions), and empties the batch. */
  take(): Uint16Array {
    const sum = this.#take();
    // little-endian: one copy of the kernel's output as 16-bit lanes (the wasm memory is LE)
    const lanes = LITTLE_ENDIAN
      ? new Uint16Array(sum.buffer.slice(sum.byteOffset, sum.byteOffset + LTHASH_BYTES))
      : new Uint16Array(LTHASH_LANES);
    if (!LITTLE_ENDIAN) addDigestLanes(lanes, sum, false);
    this.begin();
    return lanes;
  }

  /** Runs what is queued; the sum's 2048 bytes in natural order (the kernel's output area). */
  #take(): Uint8Array {
    this.#run();
    this.#k.x.lthash_acc_take();
    return this.#k.out();
  }

  #run(): void {
    if (this.#count > 0) this.#k.x.lthash_acc_batch(this.#k.base, this.#count);
    this.#count = 0;
    this.#used = 0;
  }
}

let batchOfThread: ElementLaneBatch | undefined;

/** This thread's ElementLaneBatch (begun). */
export function elementLaneBatch(): ElementLaneBatch {
  batchOfThread ??= new ElementLaneBatch(kernel());
  batchOfThread.begin();
  return batchOfThread;
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
