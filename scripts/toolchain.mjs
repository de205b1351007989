#!/usr/bin/env node
// The README's two commands, `npm start` and `npm test`, run through this file. It needs only
// Node >= 20 and npm: when the running Node is older than 24 (what CI tests) it installs Node 24
// from the npm registry into .tooling/ (git-ignored), and pnpm 10 likewise when pnpm 10 is not on
// PATH, installs the workspace from the lockfile, then runs the workspace script:
//
//   node scripts/toolchain.mjs test    -> pnpm run check   (lint, typecheck, build, every test tier)
//   node scripts/toolchain.mjs start   -> pnpm run build, then scripts/start.ts (what `pnpm run
//                                         devnet` runs: the built validator against the devnet)
//   node scripts/toolchain.mjs env     -> prints `export PATH=...` lines (.ci/env.sh evals them)
//
// Plain JavaScript on purpose: it runs before anything is installed, on the machine's own Node.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tooling = join(root, '.tooling');
const NODE_MAJOR = 24;
const PNPM_MAJOR = 10;
/** The workspace script each command runs (`start` then runs scripts/start.ts: see below). */
const COMMANDS = { test: 'check', start: 'build' };

const command = process.argv[2];
if (command !== 'env' && !(command in COMMANDS)) {
  console.error('usage: node scripts/toolchain.mjs <test|start|env> [args for the script]');
  process.exit(2);
}
// `env` prints shell code on stdout: progress goes to stderr there.
const say = command === 'env' ? (line) => console.error(line) : (line) => console.log(line);

function major(version) {
  return Number(String(version).trim().replace(/^v/, '').split('.')[0]);
}

/** Runs npm (the machine's) to install `spec` into `prefix`, quietly unless it fails. */
function npmInstall(prefix, spec) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, spec], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: cleanEnv(process.env),
  });
}

/** The directory holding a Node >= 24 binary: this Node's own, or one installed into .tooling/. */
function ensureNode() {
  if (major(process.versions.node) >= NODE_MAJOR) {
    return { bin: dirname(process.execPath), nodedir: undefined };
  }
  const platform = { linux: 'linux', darwin: 'darwin', win32: 'win' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (platform === undefined || arch === undefined) {
    throw new Error(
      `Node ${NODE_MAJOR} is needed and no npm package of it is known for ${process.platform}-${process.arch}; install Node ${NODE_MAJOR} yourself`,
    );
  }
  const pkg = `node-${platform}-${arch}`;
  const home = join(tooling, 'node_modules', pkg);
  const bin = platform === 'win' ? home : join(home, 'bin');
  if (!existsSync(join(bin, platform === 'win' ? 'node.exe' : 'node'))) {
    say(
      `toolchain: this is Node ${process.versions.node}; installing Node ${NODE_MAJOR} (npm package ${pkg}@${NODE_MAJOR}) into .tooling/`,
    );
    npmInstall(tooling, `${pkg}@${NODE_MAJOR}`);
  }
  // Native addons (secp256k1) compile against the headers shipped in that package, offline.
  return { bin, nodedir: home };
}

/** The directory holding pnpm 10: the one on PATH when it is 10.x, else one in .tooling/pnpm. */
function ensurePnpm(env) {
  try {
    const version = execFileSync('pnpm', ['--version'], { env, encoding: 'utf8' });
    if (major(version) === PNPM_MAJOR) return undefined;
  } catch {
    // not on PATH
  }
  const prefix = join(tooling, 'pnpm');
  const bin = join(prefix, 'node_modules', '.bin');
  if (!existsSync(join(bin, 'pnpm'))) {
    say(
      `toolchain: installing pnpm ${PNPM_MAJOR} (npm package pnpm@${PNPM_MAJOR}) into .tooling/pnpm`,
    );
    npmInstall(prefix, `pnpm@${PNPM_MAJOR}`);
  }
  return bin;
}

/**
 * The environment without what `npm run` adds for its own child (npm_config_prefix and friends,
 * npm_package_*, npm_lifecycle_*): pnpm would read those as its own settings.
 */
function cleanEnv(env) {
  const out = { ...env };
  for (const key of Object.keys(out)) {
    if (
      /^npm_(package|lifecycle|execpath|node_execpath|command)/.test(key) ||
      /^npm_config_(user_agent|prefix|global_prefix|local_prefix|node_gyp|npm_version|init_module|globalconfig|userconfig|noproxy|metrics_registry)$/.test(
        key,
      )
    ) {
      delete out[key];
    }
  }
  return out;
}

function run(file, args, env) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: root, env, stdio: 'inherit' });
    // Ctrl-C reaches the whole foreground process group; the child handles it and we wait.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', (signal) => child.kill(signal));
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
    child.on('error', (error) => {
      console.error(`toolchain: cannot run ${file}: ${error.message}`);
      resolve(1);
    });
  });
}

try {
  const node = ensureNode();
  const env = cleanEnv(process.env);
  env.PATH = [node.bin, env.PATH].join(delimiter);
  if (node.nodedir !== undefined) env.npm_config_nodedir = node.nodedir;
  const pnpmBin = ensurePnpm(env);
  if (pnpmBin !== undefined) env.PATH = [pnpmBin, env.PATH].join(delimiter);

  if (command === 'env') {
    console.log(`export PATH=${JSON.stringify(env.PATH)}`);
    if (node.nodedir !== undefined) {
      console.log(`export npm_config_nodedir=${JSON.stringify(node.nodedir)}`);
    }
    process.exit(0);
  }

  const nodeVersion = execFileSync('node', ['--version'], { env, encoding: 'utf8' }).trim();
  const pnpmVersion = execFileSync('pnpm', ['--version'], { env, encoding: 'utf8' }).trim();
  say(`toolchain: node ${nodeVersion}, pnpm ${pnpmVersion}`);
  say('toolchain: pnpm install --frozen-lockfile');
  let code = await run('pnpm', ['install', '--frozen-lockfile'], env);
  if (code === 0) {
    const script = COMMANDS[command];
    const args = command === 'start' ? ['--output-logs=errors-only'] : process.argv.slice(3);
    say(`toolchain: pnpm run ${script}`);
    code = await run('pnpm', ['run', script, ...args], env);
  }
  if (code === 0 && command === 'start') {
    // The devnet started from here, not through `pnpm run devnet` (which runs the same two
    // steps): Ctrl-C is how it ends, and pnpm reports a run it was interrupted in as failed
    // ("ELIFECYCLE Command failed.") even when everything stopped cleanly and exited 0.
    say('toolchain: node --import tsx scripts/start.ts');
    code = await run(
      'node',
      ['--import', 'tsx', 'scripts/start.ts', ...process.argv.slice(3)],
      env,
    );
  }
  process.exit(code);
} catch (error) {
  console.error(`toolchain: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
