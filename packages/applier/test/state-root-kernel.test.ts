// The BLAKE3 kernels of the state root: the WebAssembly one (wasm/blake3-lthash.c) and each level
// of the native addon this machine has (native/blake3-lthash-native.c: avx512, avx2), each held to
// blake3-wasm (the reference) and to each other, and the native addon's presence and dispatch.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testSeed } from '@synddb/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLAKE3_LTHASH_SOURCE_SHA256,
  BLAKE3_LTHASH_WASM_BASE64,
} from '../src/state-root/blake3-lthash-wasm';
import { LTHASH_BYTES, LTHASH_LANES, type StateRootKernelName } from '../src/state-root/lanes';
import { addonPath, loadNativeAddon, loadNativeAddonFrom } from '../src/state-root/native-kernel';
import {
  elementLaneBatch,
  elementXof,
  selectStateRootKernel,
  stateRootKernel,
} from '../src/state-root/state-root-kernel';

/** The reference: `blake3-wasm` 2.1.5 (the Rust crate in WebAssembly), `hash(input, out)`. */
const reference: { hash(input: Uint8Array, out: Uint8Array): void } = createRequire(
  import.meta.url,
)('blake3-wasm/dist/wasm/nodejs/blake3_js.js');

const referenceXof = (input: Uint8Array): Uint8Array => {
  const out = new Uint8Array(LTHASH_BYTES);
  reference.hash(input, out);
  return out;
};

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A small deterministic generator (xorshift32) from the run's seed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const randomBytes = (next: () => number, n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
};

/**
 * BLAKE3's official test vectors (BLAKE3-team/BLAKE3 `test_vectors/test_vectors.json`, `hash`
 * mode): input `i mod 251` of the given length, the first 131 bytes of the extended output.
 */
const OFFICIAL: [number, string][] = [
  [
    0,
    'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262e00f03e7b69af26b7faaf09fcd333050338ddfe085b8cc869ca98b206c08243a26f5487789e8f660afe6c99ef9e0c52b92e7393024a80459cf91f476f9ffdbda7001c22e159b402631f277ca96f2defdf1078282314e763699a31c5363165421cce14d',
  ],
  [
    1,
    '2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213c3a6cb8bf623e20cdb535f8d1a5ffb86342d9c0b64aca3bce1d31f60adfa137b358ad4d79f97b47c3d5e79f179df87a3b9776ef8325f8329886ba42f07fb138bb502f4081cbcec3195c5871e6c23e2cc97d3c69a613eba131e5f1351f3f1da786545e5',
  ],
  [
    1023,
    '10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11a182d27a591b05592b15607500e1e8dd56bc6c7fc063715b7a1d737df5bad3339c56778957d870eb9717b57ea3d9fb68d1b55127bba6a906a4a24bbd5acb2d123a37b28f9e9a81bbaae360d58f85e5fc9d75f7c370a0cc09b6522d9c8d822f2f28f485',
  ],
  [
    1024,
    '42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af71cf8107265ecdaf8505b95d8fcec83a98a6a96ea5109d2c179c47a387ffbb404756f6eeae7883b446b70ebb144527c2075ab8ab204c0086bb22b7c93d465efc57f8d917f0b385c6df265e77003b85102967486ed57db5c5ca170ba441427ed9afa684e',
  ],
  [
    1025,
    'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444f4c4a22b4b399155358a994e52bf255de60035742ec71bd08ac275a1b51cc6bfe332b0ef84b409108cda080e6269ed4b3e2c3f7d722aa4cdc98d16deb554e5627be8f955c98e1d5f9565a9194cad0c4285f93700062d9595adb992ae68ff12800ab67a',
  ],
  [
    2048,
    'e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a9a60bf80001410ec9eea6698cd537939fad4749edd484cb541aced55cd9bf54764d063f23f6f1e32e12958ba5cfeb1bf618ad094266d4fc3c968c2088f677454c288c67ba0dba337b9d91c7e1ba586dc9a5bc2d5e90c14f53a8863ac75655461cea8f9',
  ],
  [
    2049,
    '5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b687952256303096de31d71d74103403822a2e0bc1eb193e7aecc9643a76b7bbc0c9f9c52e8783aae98764ca468962b5c2ec92f0c74eb5448d519713e09413719431c802f948dd5d90425a4ecdadece9eb178d80f26efccae630734dff63340285adec2aed3b51073ad3',
  ],
  [
    3072,
    'b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd29a3f6b0b978d6608335c09dc94ccf682f9951cdfc501bfe47b9c9189a6fc7b404d120258506341a6d802857322fbd20d3e5dae05b95c88793fa83db1cb08e7d8008d1599b6209d78336e24839724c191b2a52a80448306e0daa84a3fdb566661a37e11',
  ],
  [
    3073,
    '7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd39a27ae3b79d68d89da9bf25bc27139ae65a324918a5f9b7828181e52cf373c84f35b639b7fccbb985b6f2fa56aea0c18f531203497b8bbd3a07ceb5926f1cab74d14bd66486d9a91eba99059a98bd1cd25876b2af5a76c3e9eed554ed72ea952b603bf',
  ],
  [
    4096,
    '015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e9690289e9409ddb1b99768eafe1623da896faf7e1114bebeadc1be30829b6f8af707d85c298f4f0ff4d9438aef948335612ae921e76d411c3a9111df62d27eaf871959ae0062b5492a0feb98ef3ed4af277f5395172dbe5c311918ea0074ce0036454f620',
  ],
  [
    4097,
    '9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb99505f91b0b5600a11251652eacfa9497b31cd3c409ce2e45cfe6c0a016967316c426bd26f619eab5d70af9a418b845c608840390f361630bd497b1ab44019316357c61dbe091ce72fc16dc340ac3d6e009e050b3adac4b5b2c92e722cffdc46501531956',
  ],
  [
    5121,
    '628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff96adaab0613a6146cdaabe498c3a94e529d3fc1da2bd08edf54ed64d40dcd6777647eac51d8277d70219a9694334a68bc8f0f23e20b0ff70ada6f844542dfa32cd4204ca1846ef76d811cdb296f65e260227f477aa7aa008bac878f72257484f2b6c95',
  ],
  [
    7169,
    'a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e781798a8b20534be1ca9eb2ae2df3fae2ea60e48c6fb0b850b1385b5de0fe460dbe9d9f9b0d8db4435da75c601156df9d047f4ede008732eb17adc05d96180f8a73548522840779e6062d643b79478a6e8dbce68927f36ebf676ffa7d72d5f68f050b119c8',
  ],
];

/** The native levels this CPU should have, from /proc/cpuinfo (read independently of the addon). */
function cpuinfoLevels(): StateRootKernelName[] {
  const flags = new Set(
    (/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/),
  );
  const levels: StateRootKernelName[] = [];
  const avx2 = flags.has('avx2');
  if (avx2 && ['avx512f', 'avx512bw', 'avx512vl'].every((f) => flags.has(f))) levels.push('avx512');
  if (avx2) levels.push('avx2');
  return levels;
}

const nativeExpected =
  process.platform === 'linux' &&
  process.arch === 'x64' &&
  typeof (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
    .glibcVersionRuntime === 'string';

/** Every kernel usable here, best first; the native levels are checked against the CPU below. */
const KERNELS = stateRootKernel().available;

describe('the kernels available here', () => {
  it('are the native levels the CPU has on x86-64 Linux with glibc (the addon is built by pnpm build), then wasm', () => {
    const info = stateRootKernel();
    if (nativeExpected) {
      expect(info.nativeUnavailable).toBeUndefined();
      const levels = cpuinfoLevels();
      expect(info.available).toEqual([...levels, 'wasm']);
      expect(selectStateRootKernel('auto').kernel).toBe(levels[0] ?? 'wasm');
    } else {
      expect(info.available).toEqual(['wasm']);
      expect(info.nativeUnavailable).toMatch(/native kernel|glibc/);
      expect(info.kernel).toBe('wasm');
    }
  });

  it('falls back to WebAssembly, with the reason, on other platforms, without glibc, and when the addon is missing or does not load', () => {
    const linux = { platform: 'linux', arch: 'x64', glibc: () => true };
    const real = addonPath();
    expect(loadNativeAddonFrom(real, { ...linux, platform: 'darwin', arch: 'arm64' })).toEqual({
      reason: 'no native kernel for darwin-arm64',
    });
    expect(loadNativeAddonFrom(real, { ...linux, arch: 'arm64' }).reason).toMatch(/linux-arm64/);
    expect(loadNativeAddonFrom(real, { ...linux, glibc: () => false }).reason).toMatch(/glibc/);
    const dir = mkdtempSync(join(tmpdir(), 'synddb-addon-'));
    try {
      const missing = join(dir, 'missing.node');
      expect(loadNativeAddonFrom(missing, linux)).toEqual({ reason: `${missing} is missing` });
      const broken = join(dir, 'broken.node');
      writeFileSync(broken, 'not an ELF file');
      const load = loadNativeAddonFrom(broken, linux);
      expect(load.addon).toBeUndefined();
      expect(load.reason).toContain(`${broken} did not load`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (nativeExpected) {
      expect(loadNativeAddonFrom(real, linux).addon?.levels).toEqual(cpuinfoLevels());
    }
  });

  it('refuses an unknown kernel and keeps the one in use', () => {
    const before = stateRootKernel().kernel;
    expect(() => selectStateRootKernel('sse2' as StateRootKernelName)).toThrow(RangeError);
    expect(stateRootKernel().kernel).toBe(before);
  });

  it.runIf(KERNELS.length > 1)(
    "native: refuses arguments that would read or write past the caller's arrays",
    () => {
      const addon = loadNativeAddon().addon!;
      for (const name of addon.levels) {
        const level = addon[name]!;
        const input = new Uint8Array(10);
        const target = new Uint16Array(LTHASH_LANES);
        expect(() => level.accumulate(input, new Uint32Array([5, 6]), 1, target)).toThrow(
          RangeError,
        );
        // the subtract flag is not part of the length
        expect(() =>
          level.accumulate(input, new Uint32Array([4, (6 | 0x80000000) >>> 0]), 1, target),
        ).not.toThrow();
        expect(() => level.accumulate(input, new Uint32Array([0, 1]), 2, target)).toThrow(
          RangeError,
        );
        expect(() =>
          level.accumulate(input, new Uint32Array([0, 1]), 1, new Uint16Array(1023)),
        ).toThrow(RangeError);
        expect(() =>
          level.accumulate(input, new Uint32Array([0, 1]), 1, new Uint32Array(1024) as never),
        ).toThrow(TypeError);
        expect(() => level.xof(input, new Uint8Array(2047))).toThrow(RangeError);
        expect(() => level.xof([1, 2] as never, new Uint8Array(2048))).toThrow(TypeError);
      }
    },
  );

  it(`SYNDDB_STATE_ROOT_KERNEL forces a kernel in a new process (${KERNELS.join(', ')}: same root), and an unknown one fails loudly`, () => {
    const child = fileURLToPath(new URL('./kernel-child.ts', import.meta.url));
    const run = (kernel: string) =>
      spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', child], {
        encoding: 'utf8',
        env: { ...process.env, SYNDDB_STATE_ROOT_KERNEL: kernel },
        timeout: 60_000,
      });
    const roots = new Set<string>();
    for (const kernel of KERNELS) {
      const r = run(kernel);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { kernel: string; root: string };
      expect(out.kernel).toBe(kernel);
      roots.add(out.root);
    }
    expect(roots.size).toBe(1);
    const bad = run('avx1024');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('unknown state root kernel "avx1024"');
  });
});

describe('the WebAssembly kernel', () => {
  it('is built from the committed sources', () => {
    const source = Buffer.concat([
      readFileSync(new URL('../wasm/blake3-lthash.c', import.meta.url)),
      readFileSync(new URL('../native/blake3-scalar.h', import.meta.url)),
    ]);
    expect(createHash('sha256').update(source).digest('hex')).toBe(BLAKE3_LTHASH_SOURCE_SHA256);
    const wasm = readFileSync(new URL('../wasm/blake3-lthash.wasm', import.meta.url));
    expect(Buffer.from(BLAKE3_LTHASH_WASM_BASE64, 'base64').equals(wasm)).toBe(true);
  });
});

describe.each(KERNELS)('the %s kernel', (kernel) => {
  beforeAll(() => {
    expect(selectStateRootKernel(kernel).kernel).toBe(kernel);
  });
  afterAll(() => {
    selectStateRootKernel('auto');
  });

  it('matches the official BLAKE3 XOF test vectors', () => {
    for (const [n, expected] of OFFICIAL) {
      const input = new Uint8Array(n);
      for (let i = 0; i < n; i++) input[i] = i % 251;
      expect(hex(elementXof(input).subarray(0, expected.length / 2)), `length ${n}`).toBe(expected);
    }
  });

  it('matches blake3-wasm to 2048 bytes at every length 0..300, around block, chunk and tree boundaries, and at random lengths up to 5000', () => {
    const next = rng(testSeed(`blake3 kernel lengths ${kernel}`));
    const lengths: number[] = [];
    for (let n = 0; n <= 300; n++) lengths.push(n);
    for (const b of [511, 512, 1024, 2048, 3072, 4096, 5120, 8192, 16384, 33 * 1024]) {
      for (let d = -2; d <= 2; d++) lengths.push(b + d);
    }
    for (let i = 0; i < 300; i++) lengths.push(next() % 5001);
    for (const n of lengths) {
      const input = randomBytes(next, n);
      expect(hex(elementXof(input)), `length ${n}`).toBe(hex(referenceXof(input)));
    }
  });

  /** Elements for the batch tests: more than one kernel call's worth, some past the input area. */
  function batchElements(label: string) {
    const next = rng(testSeed(`${label} ${kernel}`));
    const elements: { bytes: Uint8Array; subtract: boolean }[] = [];
    // more than one kernel call's worth of elements (4096), and elements larger than the
    // initial input area (1.2 MB in WebAssembly, 256 KiB native), so it grows mid-batch
    for (let i = 0; i < 9000; i++) {
      const n = i % 1000 === 7 ? 1_500_000 + (next() % 5000) : next() % 2100;
      elements.push({ bytes: randomBytes(next, n), subtract: (next() & 3) === 0 });
    }
    const expected = new Uint16Array(LTHASH_LANES);
    for (const e of elements) {
      const d = new Uint16Array(referenceXof(e.bytes).buffer);
      for (let i = 0; i < LTHASH_LANES; i++) {
        expected[i] = e.subtract ? expected[i]! - d[i]! : expected[i]! + d[i]!;
      }
    }
    return { elements, expected };
  }

  it('sums a batch of added and subtracted elements like one lane sum per element, across kernel calls and input growth (finish)', () => {
    const { elements, expected } = batchElements('blake3 kernel batch');
    const lanes = new Uint16Array(LTHASH_LANES);
    lanes[5] = 0xffff; // finish adds to what is there
    const batch = elementLaneBatch();
    for (const e of elements) batch.add(e.bytes, e.subtract);
    batch.finish(lanes);
    lanes[5] = lanes[5]! + 1;
    expect(hex(new Uint8Array(lanes.buffer))).toBe(hex(new Uint8Array(expected.buffer)));
  });

  it('sums a batch of every length 0..1100 (elements chained side by side in vector lanes, each with its own number of blocks), in order and shuffled', () => {
    const next = rng(testSeed(`blake3 kernel every length ${kernel}`));
    const elements = Array.from({ length: 1101 }, (_, n) => ({
      bytes: randomBytes(next, n),
      subtract: (next() & 3) === 0,
    }));
    const shuffled = [...elements];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const expected = new Uint16Array(LTHASH_LANES);
    for (const e of elements) {
      const d = new Uint16Array(referenceXof(e.bytes).buffer);
      for (let i = 0; i < LTHASH_LANES; i++) {
        expected[i] = e.subtract ? expected[i]! - d[i]! : expected[i]! + d[i]!;
      }
    }
    for (const order of [elements, shuffled]) {
      const batch = elementLaneBatch();
      for (const e of order) batch.add(e.bytes, e.subtract);
      expect(hex(new Uint8Array(batch.take().buffer))).toBe(hex(new Uint8Array(expected.buffer)));
    }
    // and one element at a time: a batch of one uses no lanes for chaining
    for (const e of elements.slice(0, 200)) {
      const batch = elementLaneBatch();
      batch.add(e.bytes, false);
      expect(hex(new Uint8Array(batch.take().buffer))).toBe(hex(referenceXof(e.bytes)));
    }
  });

  it('take() returns the same sum, across kernel calls, and a small batch after it', () => {
    const { elements, expected } = batchElements('blake3 kernel take');
    const batch = elementLaneBatch();
    for (const e of elements) batch.add(e.bytes, e.subtract);
    const sum = batch.take();
    expect(hex(new Uint8Array(sum.buffer))).toBe(hex(new Uint8Array(expected.buffer)));
    // nothing of the big batch is left over in the next one
    const small = elementLaneBatch();
    small.add(new Uint8Array([9, 9]), false);
    small.add(new Uint8Array([7]), true);
    const d9 = new Uint16Array(referenceXof(new Uint8Array([9, 9])).buffer);
    const d7 = new Uint16Array(referenceXof(new Uint8Array([7])).buffer);
    const want = new Uint16Array(LTHASH_LANES).map((_, i) => d9[i]! - d7[i]!);
    expect(hex(new Uint8Array(small.take().buffer))).toBe(hex(new Uint8Array(want.buffer)));
  });

  it('drops an unfinished batch when the next one begins', () => {
    const a = elementLaneBatch();
    a.add(new Uint8Array([1, 2, 3]), false);
    const b = elementLaneBatch();
    b.add(new Uint8Array([4]), false);
    const lanes = new Uint16Array(LTHASH_LANES);
    b.finish(lanes);
    expect(hex(new Uint8Array(lanes.buffer))).toBe(hex(referenceXof(new Uint8Array([4]))));
  });

  it.runIf(kernel !== 'wasm')(
    'gives what the WebAssembly kernel gives, XOF by XOF and summed',
    () => {
      const next = rng(testSeed(`native vs wasm ${kernel}`));
      const inputs = Array.from({ length: 2000 }, () => randomBytes(next, next() % 3000));
      const run = () => {
        const xofs = inputs.map((input) => hex(elementXof(input)));
        const batch = elementLaneBatch();
        for (const [i, input] of inputs.entries()) batch.add(input, i % 3 === 0);
        return { xofs, sum: hex(new Uint8Array(batch.take().buffer)) };
      };
      const ours = run();
      selectStateRootKernel('wasm');
      const wasm = run();
      selectStateRootKernel(kernel);
      expect(ours.sum).toBe(wasm.sum);
      ours.xofs.forEach((x, i) => {
        expect(x, `input ${i} (${inputs[i]!.length} bytes)`).toBe(wasm.xofs[i]);
      });
    },
  );
});
