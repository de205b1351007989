#!/usr/bin/env node
// The `synddb-relayer` command runs the built CLI. This file exists before the build, so installing
// the workspace can link the command (`dist/` appears only after `pnpm build`).
import '../dist/cli.js';
