import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  type ElementLaneBatch,
  type ImageRowsArgs,
  type LaneKernel,
  LTHASH_BYTES,
  LTHASH_LANES,
  type NativeChangesetDelta,
  type NativeImageFile,
  type NativeUpdateOverlay,
} from './lanes';

/**
 * The native kernel's file (`native/blake3-lthash-native.c`, built by `native/build.mjs` at the
 * package's build into `dist/`, and shipped in the tarball): x86-64 Linux with glibc only.
 */
export const NATIVE_ADDON_FILE = 'blake3-lthash.linux-x64-gnu.node';

export type NativeLevelName = 'avx512' | 'avx2';

/** One dispatch level of the addon (see the C file's header for the contract). */
interface NativeLevel {
  xof(input: Uint8Array, out: Uint8Array): void;
  accumulate(input: Uint8Array, descriptors: Uint32Array, count: number, target: Uint16Array): void;
  /**
   * target += the changeset's INSERT and DELETE lanes; positions[0..n) = each state-table UPDATE's
   * header and record offsets. Returns n, -1 (not taken: target is then meaningless) or -2
   * (positions too small).
   */
  changesetDelta(changeset: Uint8Array, target: Uint16Array, positions: Uint32Array): number;
  /** The UPDATE overlay (native/update-overlay.h), on an opaque handle. */
  overlayCreate(maxBytes: number): OverlayHandle;
  overlayFollow(h: OverlayHandle, name: Uint8Array): number;
  overlayClear(h: OverlayHandle): void;
  overlayUndo(h: OverlayHandle): boolean;
  overlayStats(h: OverlayHandle, out: Float64Array): void;
  overlayMissing(h: OverlayHandle, changeset: Uint8Array, out: Uint32Array): number;
  overlayPreload(
    h: OverlayHandle,
    changeset: Uint8Array,
    pairs: Uint32Array,
    count: number,
    elements: Uint8Array,
    descriptors: Uint32Array,
  ): number;
  overlayPreloadRows(
    h: OverlayHandle,
    name: Uint8Array,
    keyColumns: Uint32Array,
    elements: Uint8Array,
    descriptors: Uint32Array,
    count: number,
  ): number;
  overlayWalk(
    h: OverlayHandle,
    changeset: Uint8Array,
    positions: Uint32Array | null,
    target: Uint16Array | null,
  ): number;
  /** A database file's rows as elements (native/image-rows.h); null: not read this way. */
  imageOpen(path: string): ImageHandle | null;
  imageClose(h: ImageHandle): void;
  imageRows(h: ImageHandle, ...args: ImageRowsArgs): number;
}

/** An opaque image file handle of the addon's. */
declare const imageHandle: unique symbol;
type ImageHandle = { readonly [imageHandle]: true };

declare const overlayHandle: unique symbol;
type OverlayHandle = { readonly [overlayHandle]: true };

/** The addon's exports: the levels this CPU and OS support, best first, and their functions. */
interface NativeAddon {
  levels: NativeLevelName[];
  avx512?: NativeLevel;
  avx2?: NativeLevel;
  /** The CPU the calling thread runs on (sched_getcpu), -1 if unknown. */
  threadCpu?(): number;
  /** Moves the calling thread off `cpu` if it runs there (thread-placement.ts). */
  leaveCpu?(cpu: number): boolean;
}

export interface NativeAddonLoad {
  addon?: NativeAddon;
  /** Why there is no addon (platform, libc, file missing, load error). */
  reason?: string;
}

/**
 * Where the addon is: next to the bundle (`dist/index.js`, `dist/index.cjs`), or, run from the
 * TypeScript sources (tests, `source` condition), in the package's `dist/` (built by `pnpm build`).
 */
export function addonPath(): string {
  const here = import.meta.url;
  const relative = here.endsWith('.ts')
    ? `../../dist/${NATIVE_ADDON_FILE}`
    : `./${NATIVE_ADDON_FILE}`;
  return fileURLToPath(new URL(relative, here));
}

function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

let loaded: NativeAddonLoad | undefined;

/** The addon, loaded once per thread; never throws (a missing or broken addon is a reason). */
export function loadNativeAddon(): NativeAddonLoad {
  loaded ??= loadNativeAddonFrom(addonPath());
  return loaded;
}

/** Where the addon is looked for: the platform and libc it was built for, then the file. */
export interface NativeAddonHost {
  platform: string;
  arch: string;
  glibc: () => boolean;
}

const THIS_HOST: NativeAddonHost = {
  platform: process.platform,
  arch: process.arch,
  glibc: isGlibc,
};

/** Loads the addon at `path` if `host` is one it is built for (tests pass other hosts and files). */
export function loadNativeAddonFrom(
  path: string,
  host: NativeAddonHost = THIS_HOST,
): NativeAddonLoad {
  if (host.platform !== 'linux' || host.arch !== 'x64') {
    return { reason: `no native kernel for ${host.platform}-${host.arch}` };
  }
  if (!host.glibc()) return { reason: 'the native kernel is built for glibc, this is not glibc' };
  if (!existsSync(path)) return { reason: `${path} is missing` };
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (!Array.isArray(addon.levels)) return { reason: `${path} is not the kernel addon` };
    if (addon.levels.length === 0) return { reason: 'the CPU has neither AVX2 nor AVX-512' };
    return { addon };
  } catch (error) {
    return { reason: `${path} did not load: ${(error as Error).message}` };
  }
}

/** Elements per kernel call (descriptors), as in the WebAssembly kernel. */
const MAX_ELEMENTS = 4096;
/** The batch's input area: grown for a larger element, shrunk back at the next batch. */
const INPUT_BYTES = 256 * 1024;

/**
 * The batch over a native level: elements are copied into a buffer of this thread's, and each
 * run adds their lanes, in natural order, straight into its target (the caller's lanes when
 * nothing ran before `finish`/`take`, else the batch's own sum).
 */
class NativeLaneBatch implements ElementLaneBatch {
  #level: NativeLevel;
  #input = new Uint8Array(INPUT_BYTES);
  #descriptors = new Uint32Array(2 * MAX_ELEMENTS);
  #count = 0;
  #used = 0;
  /** Lane sums of the runs made before finish/take (a full descriptor table or input area). */
  #sum = new Uint16Array(LTHASH_LANES);
  #summed = false;

  constructor(level: NativeLevel) {
    this.#level = level;
  }

  begin(): void {
    this.#count = 0;
    this.#used = 0;
    // grown for a large element: back to the usual size rather than kept for the thread's life
    if (this.#input.byteLength > INPUT_BYTES * 4) this.#input = new Uint8Array(INPUT_BYTES);
    if (this.#summed) {
      this.#sum.fill(0);
      this.#summed = false;
    }
  }

  add(element: Uint8Array, subtract: boolean): void {
    const n = element.byteLength;
    if (this.#count === MAX_ELEMENTS || this.#used + n > this.#input.byteLength) {
      this.#run(this.#sum);
      this.#summed = true;
      if (n > this.#input.byteLength) {
        this.#input = new Uint8Array(2 ** Math.ceil(Math.log2(n)));
      }
    }
    this.#input.set(element, this.#used);
    const d = 2 * this.#count++;
    this.#descriptors[d] = this.#used;
    this.#descriptors[d + 1] = subtract ? (n | 0x80000000) >>> 0 : n;
    this.#used += n;
  }

  finish(lanes: Uint16Array): void {
    if (this.#summed) for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = lanes[i]! + this.#sum[i]!;
    this.#run(lanes);
    this.begin();
  }

  take(): Uint16Array {
    const lanes = this.#summed ? this.#sum.slice() : new Uint16Array(LTHASH_LANES);
    this.#run(lanes);
    this.begin();
    return lanes;
  }

  #run(target: Uint16Array): void {
    if (this.#count > 0) {
      this.#level.accumulate(this.#input, this.#descriptors, this.#count, target);
    }
    this.#count = 0;
    this.#used = 0;
  }
}

/** A kernel over one of the addon's levels (which must be in `addon.levels`). */
export function createNativeKernel(addon: NativeAddon, name: NativeLevelName): LaneKernel {
  const level = addon[name];
  if (level === undefined) throw new Error(`the native kernel has no ${name} level on this CPU`);
  const out = new Uint8Array(LTHASH_BYTES);
  // Two offsets per UPDATE, doubled (and the pass run again) when a changeset has more.
  let positions = new Uint32Array(4096);
  return {
    name,
    xof(element) {
      level.xof(element, out);
      return out;
    },
    batch: new NativeLaneBatch(level),
    changesetDelta(changeset, into): NativeChangesetDelta | undefined {
      // the caller's lanes (zeroed here), or new ones
      const lanes = into === undefined ? new Uint16Array(LTHASH_LANES) : into.fill(0);
      let n = level.changesetDelta(changeset, lanes, positions);
      while (n === -2) {
        positions = new Uint32Array(positions.length * 2);
        lanes.fill(0);
        n = level.changesetDelta(changeset, lanes, positions);
      }
      if (n < 0) return undefined;
      return { lanes, positions: positions.subarray(0, n) };
    },
    updateOverlay: (maxBytes) => nativeUpdateOverlay(level, maxBytes),
    openImage(path): NativeImageFile | undefined {
      const h = level.imageOpen(path);
      if (h === null) return undefined;
      return {
        rows: (...args) => level.imageRows(h, ...args),
        accumulate: (out, descriptors, count, lanes) =>
          level.accumulate(out, descriptors, count, lanes),
        close: () => level.imageClose(h),
      };
    },
  };
}

const utf8 = new TextEncoder();
/** overlayMissing's answer when its list is too small (it is doubled and the pass run again). */
const POSITIONS_FULL = -2;

function nativeUpdateOverlay(level: NativeLevel, maxBytes: number): NativeUpdateOverlay {
  const h = level.overlayCreate(maxBytes);
  const stats = new Float64Array(2);
  let pairs = new Uint32Array(1024);
  return {
    follow(table) {
      level.overlayFollow(h, utf8.encode(table));
    },
    clear() {
      level.overlayClear(h);
    },
    undo() {
      return level.overlayUndo(h);
    },
    stats() {
      level.overlayStats(h, stats);
      return { rows: stats[0]!, bytes: stats[1]! };
    },
    missing(changeset) {
      let n = level.overlayMissing(h, changeset, pairs);
      while (n === POSITIONS_FULL) {
        pairs = new Uint32Array(pairs.length * 2);
        n = level.overlayMissing(h, changeset, pairs);
      }
      return n < 0 ? n : pairs.subarray(0, n);
    },
    preload(changeset, list, elements, descriptors) {
      return level.overlayPreload(h, changeset, list, list.length / 2, elements, descriptors);
    },
    preloadRows(table, keyColumns, elements, descriptors, count) {
      return level.overlayPreloadRows(
        h,
        utf8.encode(table),
        keyColumns,
        elements,
        descriptors,
        count,
      );
    },
    walk(changeset, positions, lanes) {
      return level.overlayWalk(h, changeset, positions, lanes);
    },
  };
}
