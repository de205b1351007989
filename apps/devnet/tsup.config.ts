import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// Two entries: the library (sequencer, sample app, digest) and the `synddb-devnet` binary.
// `removeNodeProtocol: false` keeps `node:sqlite` as written: it only exists with the prefix.
export default defineConfig(
  packageBuild({ entry: ['src/index.ts', 'src/cli.ts'], removeNodeProtocol: false }),
);
