import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The pool worker is its own entry: the pool loads `./verify-worker.js` next to the bundle.
export default defineConfig(
  packageBuild({
    entry: { index: 'src/index.ts', 'verify-worker': 'src/pool/verify-worker.ts' },
  }),
);
