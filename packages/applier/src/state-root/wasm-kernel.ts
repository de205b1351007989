import { BLAKE3_LTHASH_WASM_BASE64 } from './blake3-lthash-wasm';
import {
  addDigestLanes,
  type ElementLaneBatch,
  type LaneKernel,
  LITTLE_ENDIAN,
  LTHASH_BYTES,
  LTHASH_LANES,
} from './lanes';

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
 * An instance of the WebAssembly BLAKE3 kernel (`wasm/blake3-lthash.c`, SIMD, embedded in
 * base64): compiled and instantiated synchronously, one per thread (each worker has its own).
 * Its memory holds a fixed area (descriptors, lane sums, one output) and, from `__heap_base` to
 * the end, the input elements of a batch; it grows for elements that do not fit.
 */
class Blake3Wasm {
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

/** The batch over the WebAssembly kernel: elements are copied into its memory. */
class WasmLaneBatch implements ElementLaneBatch {
  #k: Blake3Wasm;
  #count = 0;
  #used = 0;

  constructor(k: Blake3Wasm) {
    this.#k = k;
  }

  begin(): void {
    this.#k.x.lthash_acc_reset();
    this.#count = 0;
    this.#used = 0;
  }

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

  finish(lanes: Uint16Array): void {
    addDigestLanes(lanes, this.#take(), false);
    this.begin();
  }

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

/** The WebAssembly kernel for this thread (compiled and instantiated now). */
export function createWasmKernel(): LaneKernel {
  const k = new Blake3Wasm();
  const out = new Uint8Array(LTHASH_BYTES);
  return {
    name: 'wasm',
    xof(element) {
      k.reserve(element.byteLength);
      k.bytes.set(element, k.base);
      k.x.lthash_xof(k.base, element.byteLength);
      out.set(k.out());
      return out;
    },
    batch: new WasmLaneBatch(k),
  };
}
