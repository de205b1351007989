import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The workers are their own entries: the prepare pool loads `./prepare-worker.js` next to the
// bundle, the state root's UPDATE resolver `./update-resolver-worker.js`.
export default defineConfig(
  packageBuild({
    entry: ['src/index.ts', 'src/prepare-worker.ts', 'src/update-resolver-worker.ts'],
  }),
);
