import { defineConfig } from 'vitest/config';

/** `pnpm soak`: the long run of the built validator under forced GC (not in `npm test`). */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
  },
});
