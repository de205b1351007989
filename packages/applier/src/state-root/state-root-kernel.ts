import type {
  ElementLaneBatch,
  LaneKernel,
  NativeChangesetDelta,
  NativeImageFile,
  NativeUpdateOverlay,
  StateRootKernelName,
} from './lanes';
import { createNativeKernel, loadNativeAddon } from './native-kernel';
import { createWasmKernel } from './wasm-kernel';

/** Which BLAKE3 kernel computes the state root's element hashes on this thread. */
export interface StateRootKernel {
  /** The kernel in use on this thread. */
  kernel: StateRootKernelName;
  /** The kernels usable here, best first (`wasm` is always there, last). */
  available: StateRootKernelName[];
  /** Why no native kernel is available (platform, libc, addon missing or not loading, CPU). */
  nativeUnavailable?: string;
}

/** Environment variable that forces a kernel: `auto` (default), `avx512`, `avx2` or `wasm`. */
const KERNEL_ENV = 'SYNDDB_STATE_ROOT_KERNEL';
const CHOICES: readonly (StateRootKernelName | 'auto')[] = ['auto', 'avx512', 'avx2', 'wasm'];

/** This thread's kernels, made on first use; `current` is the one in use. */
const kernels = new Map<StateRootKernelName, LaneKernel>();
let current: LaneKernel | undefined;

function availableKernels(): StateRootKernelName[] {
  return [...(loadNativeAddon().addon?.levels ?? []), 'wasm'];
}

function kernelFor(choice: StateRootKernelName | 'auto'): LaneKernel {
  if (!CHOICES.includes(choice)) {
    throw new RangeError(
      `unknown state root kernel ${JSON.stringify(choice)}: ${CHOICES.join(', ')}`,
    );
  }
  const { addon, reason } = loadNativeAddon();
  const name = choice === 'auto' ? (addon?.levels[0] ?? 'wasm') : choice;
  let k = kernels.get(name);
  if (k !== undefined) return k;
  if (name === 'wasm') {
    k = createWasmKernel();
  } else if (addon?.levels.includes(name)) {
    k = createNativeKernel(addon, name);
  } else {
    throw new Error(
      `the ${name} state root kernel is not available here (${reason ?? `the CPU has ${availableKernels().join(', ')}`})`,
    );
  }
  kernels.set(name, k);
  return k;
}

function laneKernel(): LaneKernel {
  if (current === undefined) {
    const forced = process.env[KERNEL_ENV];
    current = kernelFor(
      forced === undefined || forced === '' ? 'auto' : (forced as StateRootKernelName),
    );
  }
  return current;
}

/**
 * The BLAKE3 kernel of this thread's state-root hashing: `avx512` or `avx2` (the native addon,
 * shipped for x86-64 Linux with glibc, chosen by the CPU's features) or `wasm` (WebAssembly SIMD,
 * everywhere else, and whenever the addon cannot load). All give the same hashes.
 * `SYNDDB_STATE_ROOT_KERNEL` forces one (an unavailable one throws at first use).
 */
export function stateRootKernel(): StateRootKernel {
  const k = laneKernel();
  const reason = loadNativeAddon().reason;
  return {
    kernel: k.name,
    available: availableKernels(),
    ...(reason === undefined ? {} : { nativeUnavailable: reason }),
  };
}

/**
 * Makes this thread use another kernel (`auto`: the best available), for tests and benchmarks;
 * throws when it is not available here. Other threads keep theirs.
 */
export function selectStateRootKernel(kernel: StateRootKernelName | 'auto'): StateRootKernel {
  current = kernelFor(kernel);
  return stateRootKernel();
}

/**
 * The element's 2048 XOF bytes: BLAKE3 of its bytes in XOF mode (the first 2048 bytes of its
 * extended output). Returns one buffer of this thread, overwritten by the next call.
 */
export function elementXof(element: Uint8Array): Uint8Array {
  return laneKernel().xof(element);
}

/** This thread's ElementLaneBatch of the current kernel (begun). */
export function elementLaneBatch(): ElementLaneBatch {
  const batch = laneKernel().batch;
  batch.begin();
  return batch;
}

/**
 * A changeset's delta by this thread's kernel in one native pass (`LaneKernel#changesetDelta`):
 * undefined when the kernel has none (WebAssembly) or the pass does not take the input. `into`:
 * 1024 lanes to write the delta's into (zeroed first) instead of new ones.
 */
export function nativeChangesetDelta(
  changeset: Uint8Array,
  into?: Uint16Array,
): NativeChangesetDelta | undefined {
  return laneKernel().changesetDelta?.(changeset, into);
}

/**
 * A new native UPDATE overlay of this thread's kernel keeping at most `maxBytes` of row versions;
 * undefined when the kernel has none (WebAssembly).
 */
export function nativeUpdateOverlay(maxBytes: number): NativeUpdateOverlay | undefined {
  return laneKernel().updateOverlay?.(maxBytes);
}

/**
 * A database file opened by this thread's kernel to read its rows straight from its pages
 * (`LaneKernel#openImage`): undefined with the WebAssembly kernel, or when the file is not read
 * that way (see native/image-rows.h).
 */
export function nativeImageFile(path: string): NativeImageFile | undefined {
  return laneKernel().openImage?.(path);
}
