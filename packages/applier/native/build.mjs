#!/usr/bin/env node
// Builds the native BLAKE3 kernel (blake3-lthash-native.c, a Node-API addon) into
// dist/blake3-lthash.linux-x64-gnu.node, after tsup (which empties dist/): `pnpm build` of
// @synddb/applier runs it, and the packed tarball carries the file (see the README, "State root").
//
// x86-64 Linux with glibc only; elsewhere it prints why and builds nothing (the package then uses
// its WebAssembly kernel). There, a failure is an error: no compiler, no Node-API headers, a
// compile error, or an addon that does not load or hashes wrong on this machine. Needs a C
// compiler (`CC`, default gcc) and Node's headers: NODE_API_HEADERS (a directory holding
// node_api.h), else npm_config_nodedir/include/node, else the running Node's own include/node,
// else /usr/include/node.
//
// Plain Node ESM without dependencies.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../dist');
const FILE = 'blake3-lthash.linux-x64-gnu.node';

function fail(message) {
  process.stderr.write(`native/build.mjs: ${message}\n`);
  process.exit(1);
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log(
    `native/build.mjs: no native kernel for ${process.platform}-${process.arch}; the WebAssembly kernel is used`,
  );
  process.exit(0);
}
const glibc = process.report.getReport().header?.glibcVersionRuntime;
if (typeof glibc !== 'string') {
  console.log(
    'native/build.mjs: not glibc (e.g. musl): no native kernel; the WebAssembly kernel is used',
  );
  process.exit(0);
}

const headerDirs = [
  process.env.NODE_API_HEADERS,
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
  join(dirname(process.execPath), '../include/node'),
  '/usr/include/node',
].filter(Boolean);
const headers = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (headers === undefined) {
  fail(
    `node_api.h not found in ${headerDirs.join(', ')}: install Node's headers (they come with the official Node.js tarballs and the npm package node) or set NODE_API_HEADERS`,
  );
}

const cc = process.env.CC || 'gcc';
mkdirSync(dist, { recursive: true });
const out = join(dist, FILE);
const partial = `${out}.partial`;
const args = [
  '-O3',
  '-std=c11',
  '-shared',
  '-fPIC',
  '-fvisibility=hidden',
  '-Wall',
  '-Wextra',
  ...(process.env.SYNDDB_NATIVE_SYMBOLS === '1' ? ['-g'] : ['-s']),
  `-I${headers}`,
  '-o',
  partial,
  join(here, 'blake3-lthash-native.c'),
];
try {
  execFileSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (error) {
  rmSync(partial, { force: true });
  fail(
    `\`${cc} ${args.join(' ')}\` failed (${error.message}). On x86-64 Linux the package ships the native kernel: install a C compiler (Debian: apt-get install gcc) or set CC`,
  );
}

// The addon must load here and hash like BLAKE3 (official test vector: the empty input's first
// 32 XOF bytes), at every level this CPU has.
const EMPTY = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const loaded = { exports: {} };
try {
  process.dlopen(loaded, partial);
} catch (error) {
  rmSync(partial, { force: true });
  fail(`the built addon does not load: ${error.message}`);
}
const addon = loaded.exports;
for (const level of addon.levels) {
  const xof = new Uint8Array(2048);
  addon[level].xof(new Uint8Array(0), xof);
  if (Buffer.from(xof.subarray(0, 32)).toString('hex') !== EMPTY) {
    rmSync(partial, { force: true });
    fail(`the built addon's ${level} level hashes the empty input wrong`);
  }
}
renameSync(partial, out);
console.log(
  `native/build.mjs: ${FILE} built with ${cc} (headers ${headers}); levels on this CPU: ${addon.levels.join(', ') || 'none (the WebAssembly kernel will be used)'}`,
);
