import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { onCleanup, tempDir, thrown } from '@synddb/test-support';
import { ethers } from 'ethers';
import { beforeEach, describe, expect, it } from 'vitest';
import { BridgeSignerKeyError } from './errors';
import { loadOrCreateSignerKey } from './key-file';

const posix = process.platform !== 'win32';
let dir: string;

beforeEach(() => {
  dir = tempDir('bridge-signer-key-');
});

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

/** Starts the fixture; resolves once it is ready (loaded, waiting for `go`). */
function startKeyChild(keyFile: string): Promise<{ child: Child; output: Promise<string> }> {
  const fixture = fileURLToPath(new URL('../test/fixtures/load-or-create-key.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', fixture, keyFile],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const output = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`key child exited ${code}: ${stderr}`)),
    );
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) {
        stdout = stdout.slice('ready\n'.length);
        resolve({ child, output });
      }
    });
    output.catch(reject);
  });
}

const keyError = (fn: () => unknown): BridgeSignerKeyError => thrown(fn, BridgeSignerKeyError);

describe('loadOrCreateSignerKey', () => {
  it('creates a 0600 key file with one line 0x<64 hex> and reloads the same key', () => {
    const keyFile = join(dir, 'nested', 'bridge.key');
    const first = loadOrCreateSignerKey({ keyFile });
    expect(first.created).toBe(true);
    const text = readFileSync(keyFile, 'utf8');
    expect(text).toMatch(/^0x[0-9a-f]{64}\n$/);
    if (posix) expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    // The file holds the key behind the address (checked with ethers).
    expect(new ethers.Wallet(text.trim()).address).toBe(first.key.address);
    // No temporary files left behind.
    expect(readdirSync(join(dir, 'nested'))).toEqual(['bridge.key']);

    const second = loadOrCreateSignerKey({ keyFile });
    expect(second.created).toBe(false);
    expect(second.key.address).toBe(first.key.address);
    expect(readFileSync(keyFile, 'utf8')).toBe(text);
    const third = loadOrCreateSignerKey({ keyFile, create: false });
    expect(third.key.address).toBe(first.key.address);
  });

  it('loads an operator-written key file (no newline, uppercase, without 0x)', () => {
    const wallet = ethers.Wallet.createRandom();
    const keyFile = join(dir, 'op.key');
    for (const contents of [
      wallet.privateKey,
      wallet.privateKey.slice(2).toUpperCase(),
      `${wallet.privateKey}\r\n`,
    ]) {
      rmSync(keyFile, { force: true });
      writeFileSync(keyFile, contents, { mode: 0o600 });
      const { key, created } = loadOrCreateSignerKey({ keyFile, create: false });
      expect(created).toBe(false);
      expect(key.address).toBe(wallet.address);
    }
  });

  it('never overwrites an existing file, even a malformed one', () => {
    const keyFile = join(dir, 'bad.key');
    writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
    const error = keyError(() => loadOrCreateSignerKey({ keyFile }));
    expect(error.shortMessage).toBe('Signer key file is malformed');
    expect(readFileSync(keyFile, 'utf8')).toBe('not a key\n');
  });

  it('rejects malformed contents', () => {
    const keyFile = join(dir, 'bad.key');
    const cases = [
      '',
      '0x1234\n',
      `0x${'00'.repeat(32)}\n`, // zero scalar
      `0x${'ff'.repeat(32)}\n`, // >= n
      `0x${'11'.repeat(32)}\n0x${'22'.repeat(32)}\n`, // two lines
      `0x${'11'.repeat(32)}${' '.repeat(400)}x`, // oversized
    ];
    for (const contents of cases) {
      rmSync(keyFile, { force: true });
      writeFileSync(keyFile, contents, { mode: 0o600 });
      const error = keyError(() => loadOrCreateSignerKey({ keyFile }));
      expect(error.code).toBe('BRIDGE_SIGNER_KEY');
      expect(error.message).not.toContain('11'.repeat(32));
    }
  });

  it.runIf(posix)('rejects a key file readable by group or others and says to chmod 600', () => {
    const keyFile = join(dir, 'open.key');
    writeFileSync(keyFile, `0x${'11'.repeat(32)}\n`, { mode: 0o600 });
    for (const mode of [0o640, 0o604, 0o660, 0o644]) {
      chmodSync(keyFile, mode);
      const error = keyError(() => loadOrCreateSignerKey({ keyFile }));
      expect(error.message).toContain('chmod 600');
      expect(error.message).toContain(mode.toString(8));
    }
    chmodSync(keyFile, 0o400);
    expect(loadOrCreateSignerKey({ keyFile }).created).toBe(false);
  });

  it('fails when the file is missing and create is false, without creating it', () => {
    const keyFile = join(dir, 'missing.key');
    const error = keyError(() => loadOrCreateSignerKey({ keyFile, create: false }));
    expect(error.shortMessage).toBe('Signer key file does not exist');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects a directory in place of the key file', () => {
    const error = keyError(() => loadOrCreateSignerKey({ keyFile: dir }));
    expect(error.code).toBe('BRIDGE_SIGNER_KEY');
  });

  it.runIf(posix && process.getuid?.() !== 0)('reports a directory it cannot create in', () => {
    chmodSync(dir, 0o500);
    try {
      const error = keyError(() => loadOrCreateSignerKey({ keyFile: join(dir, 'k.key') }));
      expect(error.shortMessage).toBe('Cannot create the signer key file');
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  it('concurrent creation by several processes yields one key', async () => {
    const keyFile = join(dir, 'race.key');
    // Every child is started and waiting before any may go: they race for the file.
    const children = await Promise.all(Array.from({ length: 4 }, () => startKeyChild(keyFile)));
    for (const { child } of children) child.stdin.end('go\n');
    const results = await Promise.all(children.map(({ output }) => output));
    const outcomes = results.map((r) => JSON.parse(r) as { address: string; created: boolean });
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.address)).size).toBe(1);
    const text = readFileSync(keyFile, 'utf8');
    expect(new ethers.Wallet(text.trim()).address).toBe(outcomes[0]!.address);
    expect(readdirSync(dir)).toEqual(['race.key']);
  });
});
