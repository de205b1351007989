import { spawn } from 'node:child_process';
import { tempDir } from '@synddb/test-support';
import { expect, it } from 'vitest';
import { ROOT } from '../support/processes';

/**
 * Runs scripts/start.ts (what `npm start` ends in, after the build) in its own process group,
 * calls `act` with the output so far until it returns true, and resolves with the exit code and
 * the whole output.
 */
function runStart(
  env: Record<string, string>,
  act: (output: string, groupPid: number) => boolean,
): Promise<{ code: number | null; output: string }> {
  const dataDir = tempDir('synddb-start-');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        SYNDDB_DEVNET_RATE: '500',
        SYNDDB_VALIDATOR_BIND: '127.0.0.1:0',
        SYNDDB_SIGNATURE_BIND: '127.0.0.1:0',
        SYNDDB_RELAYER_BIND: '127.0.0.1:0',
        SYNDDB_DEVNET_PORT: '0',
        SYNDDB_DATA_DIR: dataDir,
        ...env,
      },
      // its own process group, like a terminal's foreground job: Ctrl-C reaches the whole group
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let acted = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!acted) acted = act(output, child.pid!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function expectStartedBothBinaries(output: string): void {
  expect(output).toContain('SyndDB local devnet is running');
  expect(output).toMatch(/\$ node \S+apps\/devnet\/dist\/cli\.js .*--relayer-url http:\S+ --app/);
  expect(output).toMatch(/\$ node \S+apps\/relayer\/dist\/cli\.js --rpc-url http:/);
  // private keys are never printed
  expect(output).not.toMatch(/--(private-key|bridge-signer-key) (?!<redacted>)/);
  expect(output).toMatch(/\$ node \S+apps\/validator\/dist\/cli\.js --sequencer-url/);
  expect(output).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/status/);
  expect(output).toMatch(/signature API {3}http:\/\/127\.0\.0\.1:\d+/);
}

// Keeps the README's first command true: `npm start` (scripts/toolchain.mjs) builds and runs
// scripts/start.ts, as `pnpm run devnet` does: the built devnet and the built validator as two
// processes.
it('scripts/start.ts runs the built devnet and validator as processes; the validator applies and signs', async () => {
  const { code, output } = await runStart({ SYNDDB_START_SMOKE: '60' }, () => false);
  expect(code, output).toBe(0);
  expectStartedBothBinaries(output);
  // both processes stopped cleanly on SIGTERM
  expect(output).toContain('synddb-validator stopped');
  expect(output).toContain('SIGTERM: flushing and stopping');
  expect(output).toMatch(/snapshot applied/);
  const applied = Number(/smoke: applied (\d+)/.exec(output)?.[1]);
  expect(applied).toBeGreaterThanOrEqual(59);
  // the sample app's workload makes withdrawals; the validator signs them after they commit
  expect(Number(/signed (\d+) withdrawals/.exec(output)?.[1])).toBeGreaterThanOrEqual(1);
  // ... and the relayer lands them on the local chain
  expect(Number(/relayed (\d+) on-chain/.exec(output)?.[1])).toBeGreaterThanOrEqual(1);
  expect(output).toMatch(/\[relayer\] .*synddb-relayer stopped/);
});

it('Ctrl-C (SIGINT to the whole process group) stops both processes gracefully, exit 0', async () => {
  const { code, output } = await runStart({}, (out, pid) => {
    if (!/caught up with storage/.test(out)) return false;
    process.kill(-pid, 'SIGINT');
    return true;
  });
  expectStartedBothBinaries(output);
  expect(output, output).toMatch(/\[validator\] .*shutdown requested signal=SIGINT/);
  expect(output).toMatch(/\[validator\] .*synddb-validator stopped/);
  expect(output).toMatch(/\[devnet\] SIGINT: flushing and stopping/);
  expect(output).toMatch(/\[relayer\] .*synddb-relayer stopped/);
  // one signal each: the validator finished its commit instead of exiting at once
  expect(output).not.toMatch(/second signal/);
  expect(code, output).toBe(0);
});
