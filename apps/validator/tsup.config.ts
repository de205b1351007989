import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// Two entries: the library (`startValidator`, config schema) and the `synddb-validator` binary.
export default defineConfig(packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] }));
