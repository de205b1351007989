import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// Two entries: the library (sequencer, sample app, digest) and the `synddb-devnet` binary.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] }));
