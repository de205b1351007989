import { defineConfig } from 'vitest/config';

/**
 * What is shipped, not the sources: no `source` export condition, so every workspace import
 * resolves to the built `dist/` (turbo builds it first), and the binaries run as processes.
 */
export default defineConfig({
  test: {
    // test/soak is the long run (`pnpm soak`, vitest.soak.config.ts), not part of `npm test`.
    include: ['test/shipped/**/*.test.ts', 'test/pack/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Each file starts its own processes and servers; one file at a time keeps a 2-core machine
    // from starving them.
    fileParallelism: false,
  },
});
