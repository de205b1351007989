import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// Three entries: the library (`startValidator`, config schema), the `synddb-validator` binary and
// the API thread, which both start as `./api-thread.js` next to their bundle.
export default defineConfig(
  packageBuild({
    entry: { index: 'src/index.ts', cli: 'src/cli.ts', 'api-thread': 'src/api-thread.ts' },
  }),
);
