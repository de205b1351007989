// Why one file: every check here, the install/import/types checks and the runs of the packed
// validator alike, stands on one fixture that takes minutes to build: every publishable package
// packed by scripts/pack-packages.mjs and installed with npm into two fresh projects outside the
// workspace (the full consumer, whose scripts also start the validator, and the validator-only
// install the Docker image makes). Vitest runs each file in its own worker with its own module
// state, one file at a time here (fileParallelism: false), so two files would pack and install
// everything twice; sharing it across files would take a cross-process cache or a globalSetup,
// more machinery than the length it saves. The file reads in order instead: process helpers, the
// fixture (beforeAll), the ESM and CommonJS consumer checks (load, decode, sign, apply), the
// packed validator against the devnet sequencer, then the bin, types and dependency checks.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The packages as consumers get them: every publishable package is packed with the release
 * scripts (scripts/pack-packages.mjs, scripts/install-packed.mjs, the ones the Docker image uses)
 * and installed with npm into fresh projects under the OS temp directory, outside the workspace,
 * so nothing resolves through workspace links. Every check runs in its own process with the
 * consumer project as its working directory.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixtures = join(root, 'tests/release/fixtures');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

interface PackedPackage {
  name: string;
  version: string;
  file: string;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of every child: the caller's, without what would leak workspace settings in. */
function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // NODE_OPTIONS could carry --conditions=source; npm_* come from the pnpm script runner.
    if (key === 'NODE_OPTIONS' || key.startsWith('VITEST')) continue;
    if (/^npm_(package|lifecycle|command|execpath|node_execpath)/.test(key)) continue;
    if (key === 'npm_config_user_agent' || key === 'npm_config_verify_deps_before_run') continue;
    env[key] = value;
  }
  return env;
}

function start(command: string, args: string[], cwd: string): ChildProcess {
  return spawn(command, args, { cwd, env: consumerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a process to its end (killed after `timeoutMs`). */
function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = start(command, args, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function describeExit(what: string, exit: Exit): string {
  return `${what} exited with ${exit.code ?? exit.signal}\n--- stdout\n${exit.stdout}\n--- stderr\n${exit.stderr}`;
}

async function runOk(command: string, args: string[], cwd: string, timeoutMs?: number) {
  const exit = await run(command, args, cwd, timeoutMs);
  if (exit.code !== 0) throw new Error(describeExit(`${command} ${args.join(' ')}`, exit));
  return exit;
}

/** Runs a consumer script's scenario and parses the JSON line it prints. */
async function scenario(
  consumer: string,
  script: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const exit = await run(process.execPath, [script, ...args], consumer, timeoutMs);
  expect(exit.code, describeExit(`${script} ${args[0]}`, exit)).toBe(0);
  const lines = exit.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Module specifiers of static imports/exports, dynamic imports and require calls in a file. */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    // require("x"), and bundler-renamed requires: require2("x"), __require("x")
    /\b\w*require\d*\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\b(?:require|import\.meta)\.resolve\s*\(\s*["']([^"']+)["']/g,
    /^\s*import\s*["']([^"']+)["']/gm,
    /^\s*import\s+\w+\s*=\s*require\s*\(\s*["']([^"']+)["']\s*\)/gm,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]!);
  return found;
}

const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const isBuiltin = (specifier: string) =>
  specifier.startsWith('node:') || builtinModules.includes(packageOf(specifier));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** Rows of every table of the sample app, as SQL literals, with the SQL that reads them. */
function appTables(appDb: string): {
  sql: Record<string, string>;
  rows: Record<string, string[][]>;
} {
  const db = new DatabaseSync(appDb, { readOnly: true });
  try {
    const sql: Record<string, string> = {};
    const rows: Record<string, string[][]> = {};
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[];
    for (const { name } of tables) {
      const columns = (db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map(
        (c) => `"${c.name}"`,
      );
      sql[name] =
        `SELECT ${columns.map((c) => `quote(${c})`).join(', ')} FROM "${name}" ORDER BY ${columns.join(', ')}`;
      rows[name] = db
        .prepare(sql[name])
        .all()
        .map((row) => Object.values(row) as string[]);
    }
    return { sql, rows };
  } finally {
    db.close();
  }
}

/** The devnet sequencer with its sample app, as its own process, until the workload is done. */
async function startDevnet(dir: string, transactions: number) {
  const appDb = join(dir, 'app.db');
  const child = start(
    process.execPath,
    [
      join(root, 'apps/devnet/dist/cli.js'),
      '--app',
      '--transactions',
      String(transactions),
      '--port',
      '0',
      '--rate',
      '500',
      '--flush-interval-ms',
      '100',
      '--batch-max-messages',
      '10',
      '--snapshot-every',
      '25',
      '--app-db',
      appDb,
    ],
    dir,
  );
  let output = '';
  const done = new Promise<{ url: string; pubkey: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devnet not done in 60s:\n${output}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`devnet exited with ${code}:\n${output}`)));
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      const url = /^sequencer\s+(http:\/\/\S+)$/m.exec(output)?.[1];
      const pubkey = /^signer pubkey\s+(0x[0-9a-f]{128})$/m.exec(output)?.[1];
      if (url && pubkey && /^sample app done:/m.test(output)) {
        clearTimeout(timer);
        resolve({ url, pubkey });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    const { url, pubkey } = await done;
    const status = (await (await fetch(`${url}/status`)).json()) as { current_sequence: number };
    return { url, pubkey, appDb, head: String(status.current_sequence - 1), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('packed packages installed outside the workspace', () => {
  let tmp: string;
  let release: string;
  let consumer: string;
  let validatorOnly: string;
  let packed: PackedPackage[];

  beforeAll(async () => {
    tmp = tempDir('synddb-packed-'); // removed after the file
    release = join(tmp, 'release');
    consumer = join(tmp, 'consumer');
    validatorOnly = join(tmp, 'validator-only');
    expect(relative(root, tmp).startsWith('..')).toBe(true);

    await runOk(
      process.execPath,
      [join(root, 'scripts/pack-packages.mjs'), release],
      root,
      120_000,
    );
    packed = readJson<PackedPackage[]>(join(release, 'manifest.json'));

    // What a TypeScript consumer adds: Node's types. The types of better-sqlite3, whose Database
    // the applier, state store, sync engine and validator take, come with those packages.
    const rootManifest = readJson<{ devDependencies: Record<string, string> }>(
      join(root, 'package.json'),
    );
    mkdirSync(consumer, { recursive: true });
    writeFileSync(
      join(consumer, 'package.json'),
      `${JSON.stringify(
        {
          name: 'synddb-packed-consumer',
          version: '0.0.0',
          private: true,
          devDependencies: {
            '@types/node': rootManifest.devDependencies['@types/node'],
          },
        },
        null,
        2,
      )}\n`,
    );
    const install = join(root, 'scripts/install-packed.mjs');
    await Promise.all([
      // every package, with the consumer's dev dependencies
      runOk(process.execPath, [install, release, consumer], root, 240_000),
      // what the Docker image installs: the validator alone, without dev dependencies
      runOk(
        process.execPath,
        [install, release, validatorOnly, '--only=synddb-validator', '--omit=dev'],
        root,
        240_000,
      ),
    ]);
    for (const file of ['consumer.mjs', 'consumer.cjs', 'scenarios.cjs', 'dump-database.cjs']) {
      copyFileSync(join(fixtures, 'consumer', file), join(consumer, file));
    }
    copyFileSync(join(fixtures, 'golden-cose-message.json'), join(consumer, 'golden.json'));
  }, 300_000);

  it('packs every publishable package, with workspace ranges rewritten to versions', () => {
    const publishable = ['packages', 'apps']
      .flatMap((group) =>
        readdirSync(join(root, group)).map((d) =>
          readJson<{ name: string; private?: boolean }>(join(root, group, d, 'package.json')),
        ),
      )
      .filter((m) => m.private !== true)
      .map((m) => m.name);
    expect(packed.map((p) => p.name).sort()).toEqual(publishable.sort());
    expect(publishable).toContain('synddb-validator');
    for (const p of packed) {
      const manifest = readJson<Record<string, Record<string, string> | undefined>>(
        join(consumer, 'node_modules', p.name, 'package.json'),
      );
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
          expect(range, `${p.name} ${field}.${dep}`).not.toMatch(/^workspace:/);
        }
      }
      // The workspace's `source` condition (TypeScript sources) is not published: a consumer
      // whose tooling also sets `source` must still get dist.
      expect(JSON.stringify(manifest.exports), `${p.name} exports`).not.toContain('"source"');
    }
  });

  describe.each([
    ['ESM', 'consumer.mjs', 'esm'],
    ['CommonJS', 'consumer.cjs', 'cjs'],
  ])('%s consumer', (_label, script, format) => {
    it('loads every export of every package from the consumer node_modules', async () => {
      const specs: string[] = [];
      for (const p of packed) {
        const manifest = readJson<{ exports: Record<string, unknown> }>(
          join(consumer, 'node_modules', p.name, 'package.json'),
        );
        for (const subpath of Object.keys(manifest.exports)) {
          if (!subpath.endsWith('.json')) specs.push(`${p.name}${subpath.slice(1)}`);
        }
      }
      // The test servers are not published: they live in the private @synddb/test-support.
      expect(specs.filter((spec) => spec.includes('testing'))).toEqual([]);
      const out = (await scenario(consumer, script, ['load', ...specs])) as {
        format: string;
        entries: Record<string, { file: string; exports: string[] }>;
      };
      expect(out.format).toBe(format);
      for (const spec of specs) {
        const entry = out.entries[spec]!;
        const inside = relative(join(consumer, 'node_modules'), entry.file);
        expect(inside.startsWith('..'), `${spec} -> ${entry.file}`).toBe(false);
        expect(entry.file, spec).toMatch(format === 'esm' ? /\.m?js$/ : /\.cjs$/);
        expect(entry.file, spec).toContain(`${sep}dist${sep}`);
        expect(entry.exports.length, spec).toBeGreaterThan(0);
      }
    });

    it('decodes a golden vector with @synddb/protocol', async () => {
      const golden = readJson<{
        keys: { anvil0: { pubkey64: string } };
        v1_cose_message: Record<string, string> & {
          inputs: {
            sequence: number;
            timestamp: number;
            message_type: number;
            payload_utf8: string;
          };
        };
      }>(join(fixtures, 'golden-cose-message.json'));
      const v = golden.v1_cose_message;
      const out = await scenario(consumer, script, ['decode', 'golden.json']);
      expect(out).toMatchObject({
        format,
        header: {
          alg: -47,
          sequence: String(v.inputs.sequence),
          timestamp: String(v.inputs.timestamp),
          messageType: v.inputs.message_type,
        },
        protectedBytes: v.protected_header,
        pubkey: golden.keys.anvil0.pubkey64,
        payloadUtf8: v.inputs.payload_utf8,
        signature: v.signature,
        rawIsInput: true,
        sigStructure: v.sig_structure,
        signingDigest: v.keccak256_sig_structure,
        payloadKeccak: v.message_hash_keccak256_payload,
        reencoded: v.cose_sign1,
        trailingIsTrailingBytesError: true,
      });
    });

    it('signs and verifies with @synddb/verifier; tampering fails', async () => {
      const golden = readJson<{
        keys: { anvil0: { pubkey64: string; address: string } };
        v1_cose_message: { cose_sign1: string; inputs: { sequence: number } };
      }>(join(fixtures, 'golden-cose-message.json'));
      const out = (await scenario(consumer, script, ['verify', 'golden.json'])) as {
        address: string;
        pubkey: string;
        signed: string;
        nativeBackendAvailable: boolean;
        defaultBackend: string;
        pool: boolean[];
        backends: Record<string, Record<string, Record<string, unknown>>>;
      };
      expect(out.address.toLowerCase()).toBe(golden.keys.anvil0.address);
      expect(out.pubkey).toBe(golden.keys.anvil0.pubkey64);
      // deterministic signatures: byte-identical to what the Rust sequencer wrote
      expect(out.signed).toBe(golden.v1_cose_message.cose_sign1);
      // the native addon (secp256k1, a dependency) loads from the installed tarball's deps
      expect(out.nativeBackendAvailable).toBe(true);
      expect(out.defaultBackend).toBe('native');
      expect(Object.keys(out.backends).sort()).toEqual(['native', 'noble']);
      // the worker pool: the golden signature verifies, the same one over another digest not
      expect(out.pool).toEqual([true, false]);
      for (const [name, r] of Object.entries(out.backends)) {
        const accepted = {
          ok: true,
          sequence: String(golden.v1_cose_message.inputs.sequence),
          signer: golden.keys.anvil0.pubkey64,
        };
        expect(r.signed, name).toMatchObject(accepted);
        expect(r.golden, name).toMatchObject(accepted);
        expect(r.tamperedPayload, name).toMatchObject({ ok: false, isMessageSignatureError: true });
        expect(r.tamperedSignature, name).toMatchObject({
          ok: false,
          isMessageSignatureError: true,
        });
        expect(r.wrongKey, name).toMatchObject({ ok: false, isSignerMismatchError: true });
      }
    });

    it('applies a node:sqlite session changeset with @synddb/applier on a real SQLite file', async () => {
      const work = mkdtempSync(join(tmp, `apply-${format}-`));
      // node:sqlite makes the changeset and the reference result in a process of its own.
      const made = await runOk(
        process.execPath,
        [join(fixtures, 'make-changeset.mjs'), work],
        work,
      );
      const reference = JSON.parse(made.stdout) as {
        changes: { inserted: number; updated: number; deleted: number };
        native: Record<string, string[][]>;
      };
      expect(reference.changes.inserted).toBeGreaterThan(0);
      expect(reference.changes.updated).toBeGreaterThan(0);
      expect(reference.changes.deleted).toBeGreaterThan(0);

      const out = (await scenario(consumer, script, [
        'apply',
        join(work, 'base.db'),
        join(work, 'changeset.bin'),
        join(work, 'applied.db'),
      ])) as {
        result: Record<string, number>;
        integrity: string;
        dump: Record<string, string[][]>;
      };
      expect(out.result).toEqual({ ...reference.changes, omitted: 0, replaced: 0 });
      expect(out.integrity).toBe('ok');
      expect(Object.keys(out.dump)).toEqual(Object.keys(reference.native));
      for (const [table, rows] of Object.entries(reference.native)) {
        expect(out.dump[table]!.length, table).toBe(rows.length);
        rows.forEach((row, i) => {
          expect(out.dump[table]![i], `${table} row ${i}`).toEqual(row);
        });
      }
    });

    it('computes the state root with the native BLAKE3 kernel shipped in the tarball (x86-64 Linux, glibc), the same root as WebAssembly', async () => {
      const work = mkdtempSync(join(tmp, `state-root-${format}-`));
      const dbPath = join(work, 'state.db');
      const db = new DatabaseSync(dbPath);
      db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w BLOB, r REAL);
        CREATE TABLE k (a TEXT, b INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;`);
      const insertT = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)');
      for (let i = 0; i < 3000; i++) {
        // lengths across BLAKE3's block and chunk boundaries, up to several chunks
        insertT.run(i, 'x'.repeat((i * 37) % 300), new Uint8Array((i * 101) % 5000).fill(i), i / 7);
      }
      for (let i = 0; i < 500; i++) db.prepare('INSERT INTO k VALUES (?, ?)').run(`key ${i}`, -i);
      db.close();
      // independent of the native addon: the built validator's state-root command with the
      // WebAssembly kernel forced
      const reference = spawnSync(
        process.execPath,
        [join(root, 'apps/validator/dist/cli.js'), 'state-root', '--database', dbPath],
        {
          cwd: work,
          encoding: 'utf8',
          env: { ...consumerEnv(), SYNDDB_STATE_ROOT_KERNEL: 'wasm' },
        },
      );
      expect(reference.status, reference.stderr).toBe(0);
      const expected = (JSON.parse(reference.stdout) as { stateRoot: string }).stateRoot.slice(2);

      const out = (await scenario(consumer, script, ['stateRoot', dbPath])) as {
        kernel: { kernel: string; available: string[]; nativeUnavailable?: string };
        roots: Record<string, string>;
      };
      for (const [kernel, root] of Object.entries(out.roots)) expect(root, kernel).toBe(expected);
      expect(out.roots.wasm).toBe(expected);
      const glibc =
        typeof (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
          .glibcVersionRuntime === 'string';
      if (process.platform === 'linux' && process.arch === 'x64' && glibc) {
        const addon = join(
          consumer,
          'node_modules/@synddb/applier/dist/blake3-lthash.linux-x64-gnu.node',
        );
        expect(statSync(addon).isFile()).toBe(true);
        const flags = new Set(
          (/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '')
            .trim()
            .split(/\s+/),
        );
        const levels = [
          ...(['avx2', 'avx512f', 'avx512bw', 'avx512vl'].every((f) => flags.has(f))
            ? ['avx512']
            : []),
          ...(flags.has('avx2') ? ['avx2'] : []),
        ];
        expect(out.kernel.nativeUnavailable).toBeUndefined();
        expect(out.kernel.available).toEqual([...levels, 'wasm']);
        expect(out.kernel.kernel).toBe(levels[0] ?? 'wasm');
        expect(levels.length, 'this check needs a CPU with AVX2').toBeGreaterThan(0);
      } else {
        expect(out.kernel).toMatchObject({ kernel: 'wasm', available: ['wasm'] });
      }
    });
  });

  it('the validator-only install carries the native BLAKE3 kernel on x86-64 Linux with glibc', () => {
    const addon = join(
      validatorOnly,
      'node_modules/@synddb/applier/dist/blake3-lthash.linux-x64-gnu.node',
    );
    const shipped =
      process.platform === 'linux' &&
      process.arch === 'x64' &&
      typeof (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header
        .glibcVersionRuntime === 'string';
    let present = false;
    try {
      present = statSync(addon).isFile();
    } catch {
      present = false;
    }
    expect(present).toBe(shipped);
  });

  describe('against the devnet sequencer', () => {
    let devnet: Awaited<ReturnType<typeof startDevnet>>;

    beforeAll(async () => {
      devnet = await startDevnet(mkdtempSync(join(tmp, 'devnet-')), 60);
      onCleanup(() => devnet.stop());
    }, 90_000);

    it.each([
      ['consumer.mjs', 'esm'],
      ['consumer.cjs', 'cjs'],
    ])('%s: startValidator syncs, serves /status and /query, and stops', async (script, format) => {
      const expected = appTables(devnet.appDb);
      expect(Object.keys(expected.sql).sort()).toEqual(
        expect.arrayContaining(['accounts', 'transfers']),
      );
      expect(expected.rows.accounts!.length).toBeGreaterThan(0);
      const dataDir = mkdtempSync(join(tmp, `validator-${format}-`));
      const out = (await scenario(
        consumer,
        script,
        [
          'validator',
          devnet.url,
          devnet.pubkey,
          dataDir,
          devnet.head,
          JSON.stringify(expected.sql),
        ],
        90_000,
      )) as {
        version: string;
        status: { http: number; body: Record<string, unknown> };
        queries: Record<
          string,
          { http: number; sequenceHeader: string; body: { columns: string[]; rows: string[][] } }
        >;
      };
      expect(out.version).toBe(packed.find((p) => p.name === 'synddb-validator')!.version);
      expect(out.status.http).toBe(200);
      expect(out.status.body).toMatchObject({
        running: true,
        synced_once: true,
        halt: null,
        last_sequence: Number(devnet.head),
        next_sequence: Number(devnet.head) + 1,
        lag_sequences: 0,
      });
      for (const [table, rows] of Object.entries(expected.rows)) {
        const answer = out.queries[table]!;
        expect(answer.http, table).toBe(200);
        expect(answer.sequenceHeader, table).toBe(devnet.head);
        expect(answer.body.rows.length, table).toBe(rows.length);
        rows.forEach((row, i) => {
          expect(answer.body.rows[i], `${table} row ${i}`).toEqual(row);
        });
      }
    });

    it('the synddb-validator binary of the validator-only install syncs and stops on SIGTERM', async () => {
      const dataDir = mkdtempSync(join(tmp, 'validator-bin-'));
      // the bin link npm made, as a Docker CMD would run it (npx would sit between the signal
      // and the daemon)
      const child = start(
        join(validatorOnly, 'node_modules/.bin/synddb-validator'),
        [
          '--sequencer-url',
          devnet.url,
          '--sequencer-pubkey',
          devnet.pubkey,
          '--database-path',
          join(dataDir, 'replica.db'),
          '--bind-address',
          '127.0.0.1:0',
          '--sync-interval',
          '50ms',
          '--log-json',
        ],
        validatorOnly,
      );
      let output = '';
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString('utf8');
      });
      child.stderr!.on('data', (d: Buffer) => {
        output += d.toString('utf8');
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not started:\n${output}`)), 30_000);
          const check = () => {
            for (const line of output.split('\n')) {
              if (!line.startsWith('{')) continue;
              const record = JSON.parse(line) as { msg?: string; url?: string };
              if (record.msg === 'synddb-validator started' && record.url) {
                clearTimeout(timer);
                resolve(record.url);
              }
            }
          };
          child.stdout!.on('data', check);
          void exited.then((code) => reject(new Error(`exited with ${code}:\n${output}`)));
        });
        const status = await waitFor(
          async () => {
            const s = (await (await fetch(`${url}/status`)).json()) as Record<string, unknown>;
            return s.last_sequence === Number(devnet.head) && s.synced_once ? s : undefined;
          },
          { what: () => `the validator at ${devnet.head}:\n${output}`, timeoutMs: 30_000 },
        );
        expect(status, output).toMatchObject({
          last_sequence: Number(devnet.head),
          synced_once: true,
          halt: null,
        });
        // A point query asked three times: a worker answers the first, the API thread's point
        // reads (better-sqlite3, an optional peer of @synddb/query resolved in this install)
        // the others.
        const point = async () => {
          const res = await fetch(`${url}/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sql: 'SELECT id FROM accounts WHERE id = ?', params: [1] }),
          });
          expect(res.status, output).toBe(200);
          return res.json();
        };
        const answers = [await point(), await point(), await point()];
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        const metrics = await (await fetch(`${url}/metrics`)).text();
        expect(metrics).toMatch(/^synddb_query_point_reads_total 2$/m);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited, output).toBe(0);
    });
  });

  it('npx synddb-validator --help and --version work from the validator-only install', async () => {
    const { version } = packed.find((p) => p.name === 'synddb-validator')!;
    const help = await run('npx', ['--no-install', 'synddb-validator', '--help'], validatorOnly);
    expect(help.code, describeExit('--help', help)).toBe(0);
    expect(help.stdout).toContain(`synddb-validator ${version}`);
    expect(help.stdout).toContain('Usage: synddb-validator');
    expect(help.stdout).toContain('--sequencer-url');
    const ver = await run('npx', ['--no-install', 'synddb-validator', '--version'], validatorOnly);
    expect(ver.code, describeExit('--version', ver)).toBe(0);
    expect(ver.stdout.trim()).toBe(`synddb-validator ${version}`);
  });

  it('tsc resolves the types of every entry point, as ESM and as CommonJS', async () => {
    const imports: { esm: string[]; cjs: string[] } = { esm: [], cjs: [] };
    packed.forEach((p) => {
      const manifest = readJson<{ exports: Record<string, unknown> }>(
        join(consumer, 'node_modules', p.name, 'package.json'),
      );
      Object.keys(manifest.exports).forEach((subpath, j) => {
        const spec = `${p.name}${subpath.slice(1)}`;
        const id = `m${imports.esm.length}_${j}`;
        if (subpath.endsWith('.json')) {
          imports.esm.push(
            `import ${id} from '${spec}' with { type: 'json' };\nexport const ${id}Version: string = ${id}.version;`,
          );
          imports.cjs.push(
            `import ${id} = require('${spec}');\nexport const ${id}Version: string = ${id}.version;`,
          );
        } else {
          const line = `import * as ${id} from '${spec}';\nexport const ${id}Keys = Object.keys(${id});`;
          imports.esm.push(line);
          imports.cjs.push(line);
        }
      });
    });
    const source = readFileSync(join(fixtures, 'consumer/types-consumer.ts'), 'utf8');
    const runs = (['esm', 'cjs'] as const).map(async (format) => {
      const ext = format === 'esm' ? 'mts' : 'cts';
      writeFileSync(join(consumer, `types-consumer.${ext}`), source);
      writeFileSync(join(consumer, `all-exports.${ext}`), `${imports[format].join('\n')}\n`);
      const config = `tsconfig.${format}.json`;
      writeFileSync(
        join(consumer, config),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2023',
            lib: ['es2023'],
            types: ['node'],
            strict: true,
            // check the shipped .d.ts files too: an import they cannot resolve is an error
            skipLibCheck: false,
            resolveJsonModule: true,
            noEmit: true,
          },
          files: [`types-consumer.${ext}`, `all-exports.${ext}`],
        }),
      );
      const exit = await run(
        process.execPath,
        [tsc, '-p', config, '--listFiles'],
        consumer,
        120_000,
      );
      return { format, exit };
    });
    for (const { format, exit } of await Promise.all(runs)) {
      expect(exit.code, describeExit(`tsc (${format})`, exit)).toBe(0);
      const listed = exit.stdout.split('\n').filter((f) => f.includes('/node_modules/'));
      for (const p of packed) {
        const dir = join(consumer, 'node_modules', p.name, 'dist');
        const dts = listed.filter((f) => f.startsWith(`${dir}/`) && /\.d\.c?ts$/.test(f));
        expect(dts.length, `${format}: ${p.name} types`).toBeGreaterThan(0);
        // ESM resolves the `import` types (.d.ts), CommonJS the `require` types (.d.cts)
        for (const f of dts) expect(f, format).toMatch(format === 'esm' ? /\.d\.ts$/ : /\.d\.cts$/);
      }
      // nothing from the workspace but TypeScript's own lib files
      const typescriptLib = join(realpathSync(join(root, 'node_modules/typescript')), 'lib');
      const leaked = listed.filter((f) => f.startsWith(root) && !f.startsWith(typescriptLib));
      expect(leaked).toEqual([]);
    }
  }, 150_000);

  it('every bare import in the packed dist files is a builtin, the package itself, or in its dependencies / peerDependencies', () => {
    const violations: string[] = [];
    for (const p of packed) {
      const dir = join(consumer, 'node_modules', p.name);
      const manifest = readJson<{
        name: string;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      }>(join(dir, 'package.json'));
      const declared = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}),
      ]);
      const files = filesUnder(join(dir, 'dist')).filter((f) => /\.(c|m)?js$|\.d\.c?ts$/.test(f));
      expect(files.length, p.name).toBeGreaterThan(0);
      for (const file of files) {
        for (const spec of specifiers(readFileSync(file, 'utf8'))) {
          if (spec.startsWith('.') || spec.startsWith('/') || isBuiltin(spec)) continue;
          const name = packageOf(spec);
          if (name === manifest.name || declared.has(name)) continue;
          violations.push(`${p.name}: ${relative(dir, file)} imports "${spec}"`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
