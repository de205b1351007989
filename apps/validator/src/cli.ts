#!/usr/bin/env node
import { relaunchForV8PoolSize } from './v8-pool';

// First, before anything is loaded: this may replace the process with itself under another
// `--v8-pool-size` (see v8-pool.ts). (No top-level await: the build also emits CommonJS.)
relaunchForV8PoolSize();
void Promise.all([import('@synddb/app-kit'), import('./run-cli')]).then(
  ([{ runMain }, { runCli }]) => runMain('synddb-validator', runCli),
);
