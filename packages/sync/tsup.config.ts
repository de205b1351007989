import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The prepare worker is its own entry: the pool loads `./prepare-worker.js` next to the bundle.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/prepare-worker.ts'] }));
