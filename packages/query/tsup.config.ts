import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The query worker is its own entry: the pool forks `./query-worker.js` next to the bundle.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/query-worker.ts'] }));
