import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// Two entries: the library (`startRelayer`, config schema) and the `synddb-relayer` binary.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] }));
