import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The query worker is plain JS started as a child process by path
// (`new URL('./query-worker.mjs', import.meta.url)`), so it is copied next to the bundle.
export default defineConfig(
  packageBuild({ onSuccess: 'cp src/query/query-worker.mjs dist/query-worker.mjs' }),
);
