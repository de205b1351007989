import type { Options } from 'tsup';

/**
 * Build settings every package shares: ESM + CJS, declarations, Node 22 target.
 * `removeNodeProtocol: false`: esbuild would otherwise rewrite `node:sqlite` (a builtin that only
 * exists with the prefix) to `sqlite`, which fails at run time; every `node:` import stays as
 * written (tests/release/test/shipped/bundles.test.ts checks every bundle).
 */
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
    removeNodeProtocol: false,
    ...overrides,
  };
}
