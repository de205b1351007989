import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The query worker and its spawner are their own entries, next to the bundle: the pool forks
// `./worker-spawner.js`, which forks `./query-worker.js`.
export default defineConfig(
  packageBuild({ entry: ['src/index.ts', 'src/query-worker.ts', 'src/worker-spawner.ts'] }),
);
