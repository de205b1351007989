#!/usr/bin/env node
// Installs tarballs made by scripts/pack-packages.mjs into a project, with npm, the way a
// consumer outside the workspace gets them:
//
//   node scripts/install-packed.mjs <releaseDir> <projectDir> [--only=<name>[,<name>...]] [--omit=dev]
//
// <projectDir>/package.json is created (or, if present, kept and merged): every selected package
// (default: every package of <releaseDir>/manifest.json) becomes a dependency
// `file:<releaseDir>/<tarball>`, and `overrides` pins every package of the manifest to its
// tarball, so the dependencies between them (`"@synddb/protocol": "0.1.0"` after packing) never
// come from the registry. The @synddb scope is also pointed at an unreachable registry, so a
// lookup that escaped the overrides fails instead of fetching someone else's package. Third-party
// dependencies come from the configured registry. Then it runs, in <projectDir>:
//
//   npm install --no-audit --no-fund --@synddb:registry=http://127.0.0.1:9/ [--omit=dev]
//
// and checks in package-lock.json that every manifest package was installed from its tarball.
// Use a fresh <projectDir> after repacking: its package-lock.json pins each tarball's integrity.
//
// The Docker image installs the validator this way:
//   node scripts/pack-packages.mjs /release
//   node scripts/install-packed.mjs /release <appDir> --only=synddb-validator --omit=dev
//
// Plain Node ESM without dependencies (Node >= 20); npm from PATH.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Nothing listens on the discard port of loopback: a scope lookup fails at once.
const SCOPE_REGISTRY_BLOCK = '--@synddb:registry=http://127.0.0.1:9/';

function fail(message) {
  process.stderr.write(`install-packed: ${message}\n`);
  process.exit(1);
}

const positional = [];
let only;
let omitDev = false;
for (const arg of process.argv.slice(2)) {
  if (arg === '--omit=dev') omitDev = true;
  else if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').filter(Boolean);
  else if (arg.startsWith('-')) fail(`unknown option ${arg}`);
  else positional.push(arg);
}
if (positional.length !== 2) {
  fail(
    'usage: node scripts/install-packed.mjs <releaseDir> <projectDir> [--only=<name>[,<name>...]] [--omit=dev]',
  );
}
const releaseDir = resolve(positional[0]);
const projectDir = resolve(positional[1]);

const manifestPath = join(releaseDir, 'manifest.json');
if (!existsSync(manifestPath))
  fail(`${manifestPath} not found: run scripts/pack-packages.mjs first`);
const packed = JSON.parse(readFileSync(manifestPath, 'utf8'));
const spec = new Map(packed.map((p) => [p.name, `file:${join(releaseDir, p.file)}`]));
for (const [name, s] of spec) {
  if (!existsSync(s.slice('file:'.length))) fail(`${name}: ${s} not found`);
}
const selected = only ?? [...spec.keys()];
for (const name of selected) {
  if (!spec.has(name)) fail(`${name} is not in ${manifestPath}`);
}

mkdirSync(projectDir, { recursive: true });
const packageJsonPath = join(projectDir, 'package.json');
const project = existsSync(packageJsonPath)
  ? JSON.parse(readFileSync(packageJsonPath, 'utf8'))
  : { name: 'synddb-packed-consumer', version: '0.0.0', private: true };
project.dependencies = { ...project.dependencies };
for (const name of selected) project.dependencies[name] = spec.get(name);
// npm refuses an override that differs from a direct dependency's spec: both are the same string.
project.overrides = { ...project.overrides, ...Object.fromEntries(spec) };
writeFileSync(packageJsonPath, `${JSON.stringify(project, null, 2)}\n`);
console.log(`wrote ${packageJsonPath} (${selected.join(', ')})`);

const npm = 'npm';
const args = ['install', '--no-audit', '--no-fund', SCOPE_REGISTRY_BLOCK];
if (omitDev) args.push('--omit=dev');
console.log(`${projectDir}$ ${npm} ${args.join(' ')}`);
try {
  execFileSync(npm, args, { cwd: projectDir, stdio: 'inherit' });
} catch (error) {
  fail(`npm install failed: ${error.message}`);
}

// Every copy of a manifest package, at any depth, must come from its tarball.
const lock = JSON.parse(readFileSync(join(projectDir, 'package-lock.json'), 'utf8'));
const wrong = [];
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  if (!path.includes('node_modules/') || !spec.has(name)) continue;
  const tarball = spec.get(name).slice('file:'.length);
  const resolved = entry.resolved ?? '';
  if (!resolved.startsWith('file:') || resolve(projectDir, resolved.slice(5)) !== tarball) {
    wrong.push(`${path}: ${resolved || '(no resolved)'}`);
  }
}
if (wrong.length > 0) fail(`not installed from the packed tarballs:\n  ${wrong.join('\n  ')}`);
console.log(`installed ${selected.length} packed packages into ${projectDir}`);
