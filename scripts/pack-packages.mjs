#!/usr/bin/env node
// Packs every publishable (non-private) workspace package into <outDir> with `pnpm pack`, which
// rewrites `workspace:*` ranges to the packed versions, and writes <outDir>/manifest.json:
// [{ "name", "version", "file" }] with `file` relative to <outDir>.
//
//   node scripts/pack-packages.mjs <outDir>
//
// Run it after `pnpm build`: a package whose export, main, types or bin target is missing from
// its tarball (no dist/, or a wrong path in package.json) fails the run instead of shipping.
// Plain Node ESM without dependencies (Node >= 20); needs pnpm on PATH.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pnpm = 'pnpm';

function fail(message) {
  process.stderr.write(`pack-packages: ${message}\n`);
  process.exit(1);
}

function run(args, cwd) {
  try {
    return execFileSync(pnpm, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    fail(`\`${pnpm} ${args.join(' ')}\` in ${cwd} failed: ${error.message}`);
  }
}

/** The JSON value printed by a pnpm command (skipping anything a lifecycle script printed). */
function parseJsonOutput(text, what) {
  const start = text.search(/^[[{]/m);
  if (start < 0) fail(`no JSON in the output of ${what}:\n${text}`);
  try {
    return JSON.parse(text.slice(start));
  } catch (error) {
    fail(`cannot parse the output of ${what}: ${error.message}\n${text}`);
  }
}

/** Every file path package.json points at: exports targets, main, module, types, bin. */
function referencedFiles(manifest) {
  const out = new Set();
  const walk = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./') && !value.includes('*')) out.add(value.slice(2));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        // The `source` condition points at the TypeScript sources for workspace development.
        if (key !== 'source') walk(inner);
      }
    }
  };
  walk(manifest.exports);
  for (const field of ['main', 'module', 'types', 'typings']) {
    if (typeof manifest[field] === 'string') out.add(manifest[field].replace(/^\.\//, ''));
  }
  const bin = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : manifest.bin;
  for (const target of Object.values(bin ?? {})) out.add(target.replace(/^\.\//, ''));
  return [...out];
}

const outArg = process.argv[2];
if (!outArg || process.argv.length > 3) {
  fail('usage: node scripts/pack-packages.mjs <outDir>');
}
const outDir = resolve(outArg);
mkdirSync(outDir, { recursive: true });
rmSync(join(outDir, 'manifest.json'), { force: true });

const projects = parseJsonOutput(
  run(['ls', '--recursive', '--json', '--depth', '-1'], root),
  'pnpm ls',
);
const publishable = projects
  .filter((p) => p.private !== true && resolve(p.path) !== root)
  .sort((a, b) => a.name.localeCompare(b.name));
if (publishable.length === 0) fail(`no publishable packages found under ${root}`);
console.log(`packing ${publishable.length} packages from ${root} into ${outDir}`);

const manifest = [];
for (const project of publishable) {
  const packed = parseJsonOutput(
    run(['pack', '--json', '--pack-destination', outDir], project.path),
    `pnpm pack in ${project.path}`,
  );
  const files = new Set(packed.files.map((f) => f.path));
  const source = JSON.parse(readFileSync(join(project.path, 'package.json'), 'utf8'));
  const missing = referencedFiles(source).filter((f) => !files.has(f));
  if (missing.length > 0) {
    fail(
      `${packed.name}: package.json points at files missing from the tarball (run \`pnpm build\` first?): ${missing.join(', ')}`,
    );
  }
  const file = basename(packed.filename);
  manifest.push({ name: packed.name, version: packed.version, file });
  console.log(`  ${packed.name}@${packed.version} -> ${file} (${files.size} files)`);
}

writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote ${join(outDir, 'manifest.json')}`);
