import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

// Keeps the README's first command true: `npm start` ends in `pnpm run devnet`, which builds and
// runs scripts/start.ts: the built devnet and the built validator as two processes.
it('scripts/start.ts runs the built devnet and validator as processes; the validator applies and signs', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'synddb-start-'));
  try {
    const output = await new Promise<string>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
        cwd: root,
        env: {
          ...process.env,
          SYNDDB_START_SMOKE: '60',
          SYNDDB_DEVNET_RATE: '500',
          SYNDDB_VALIDATOR_BIND: '127.0.0.1:0',
          SYNDDB_SIGNATURE_BIND: '127.0.0.1:0',
          SYNDDB_DEVNET_PORT: '0',
          SYNDDB_DATA_DIR: dataDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolvePromise(out);
        else reject(new Error(`scripts/start.ts exited ${code}:\n${out}`));
      });
    });
    expect(output).toContain('SyndDB local devnet is running');
    expect(output).toMatch(/\$ node \S+apps\/devnet\/dist\/cli\.js --app/);
    expect(output).toMatch(/\$ node \S+apps\/validator\/dist\/cli\.js --sequencer-url/);
    // both processes stopped cleanly on SIGTERM
    expect(output).toContain('synddb-validator stopped');
    expect(output).toContain('SIGTERM: flushing and stopping');
    expect(output).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/status/);
    expect(output).toMatch(/snapshot applied/);
    expect(output).toMatch(/smoke: applied (\d+)/);
    const applied = Number(/smoke: applied (\d+)/.exec(output)?.[1]);
    expect(applied).toBeGreaterThanOrEqual(59);
    expect(output).toMatch(/signature API {3}http:\/\/127\.0\.0\.1:\d+/);
    // the sample app's workload makes withdrawals; the validator signs them after they commit
    expect(Number(/signed (\d+) withdrawals/.exec(output)?.[1])).toBeGreaterThanOrEqual(1);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 90_000);
