import type { Options } from 'tsup';

/** Build settings every package shares: ESM + CJS, declarations, Node 22 target. */
export function packageBuild(overrides: Options = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node22',
    platform: 'node',
    shims: true,
    splitting: false,
    ...overrides,
  };
}
