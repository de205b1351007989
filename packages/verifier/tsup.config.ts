import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// The pool worker is plain JS loaded by URL next to the bundle (`new URL('./worker.mjs', import.meta.url)`),
// so it is copied, not bundled.
export default defineConfig(packageBuild({ onSuccess: 'cp src/pool/worker.mjs dist/worker.mjs' }));
