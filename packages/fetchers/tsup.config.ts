import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// `./gcs` is its own entry so that the main one never loads @google-cloud/storage. Splitting (ESM
// and CJS) puts the modules both use (errors, BatchIndex, the transport) in shared chunks: one
// copy per process, so `instanceof GcsRequestError` holds whichever entry threw it.
export default defineConfig(
  packageBuild({ entry: ['src/index.ts', 'src/gcs.ts'], splitting: true }),
);
