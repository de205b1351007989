/**
 * The built `synddb-validator` binary with state attestations on, and its `state-root` command as
 * its own process: the root the daemon attested at the head is the root the command computes
 * from scratch, also after the daemon was killed with SIGKILL.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { startDevnet, startValidator, VALIDATOR_BIN } from '../support/processes';
import { caughtUp, validatorArgs } from '../support/validator-checks';

function stateRoot(...args: string[]) {
  return spawnSync(process.execPath, [VALIDATOR_BIN, 'state-root', ...args], {
    encoding: 'utf8',
    env: {},
  });
}

describe('the built validator: state attestations and the state-root command', () => {
  it('attests the root the state-root command computes, after a SIGKILL too', async () => {
    const dir = tempDir('synddb-dist-state-root-');
    const devnet = await startDevnet({
      directory: dir,
      args: ['--transactions', '20', '--rate', '200'],
    });
    await devnet.appDone();
    const head = await devnet.flushedHead();
    const databasePath = join(dir, 'replica.db');
    const validator = await startValidator(
      validatorArgs(devnet, databasePath, {
        extra: ['--state-attestation-interval', '1', '--query-workers', '0'],
      }),
    );
    await caughtUp(validator, head);
    // the state root's UPDATEs were resolved on the resolver's worker thread, loaded from dist/
    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metrics).toMatch(/^synddb_validator_state_root_resolver_up 1$/m);
    const resolved = Number(
      /^synddb_validator_state_root_resolver_changesets_total (\d+)$/m.exec(metrics)?.[1],
    );
    expect(resolved).toBeGreaterThan(0);
    expect(metrics).toMatch(/^synddb_validator_state_root_resolver_fallbacks_total 0$/m);
    expect(validator.lines.join('\n')).not.toMatch(/UPDATE resolver worker failed/);
    // the start-up line says which kernel hashes the state root's elements: on x86-64 Linux
    // with glibc the native one built into dist/, elsewhere WebAssembly, with the reason
    const started = validator.lines.find((l) => l.includes('synddb-validator started')) ?? '';
    const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } })
      .header?.glibcVersionRuntime;
    if (process.platform === 'linux' && process.arch === 'x64' && glibc !== undefined) {
      expect(started).toMatch(/\bstateRootKernel=(avx512|avx2)\b/);
      expect(started).not.toMatch(/stateRootKernelNote=/);
    } else {
      expect(started).toMatch(/\bstateRootKernel=wasm\b.*\bstateRootKernelNote=/);
    }
    const api = validator.signatureUrl!;
    let attested: { sequence: string; state_root: string }[] = [];
    await waitFor(async () => {
      const response = await fetch(`${api}/signatures/state/${head}`);
      attested = (await response.json()) as typeof attested;
      return response.status === 200;
    }, 'the head attested');
    expect(attested).toHaveLength(1);
    expect(attested[0]!.sequence).toBe(head.toString());

    validator.kill('SIGKILL');
    await validator.exited;
    const result = stateRoot('--database', databasePath);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const printed = JSON.parse(result.stdout) as {
      sequence: number;
      stateRoot: string;
      storedStateRoot: string | null;
    };
    expect(printed).toEqual({
      sequence: Number(head),
      stateRoot: attested[0]!.state_root,
      storedStateRoot: attested[0]!.state_root,
    });
    // the --database=PATH form
    expect(stateRoot(`--database=${databasePath}`).stdout).toBe(result.stdout);
  }, 120_000);

  it('explains its usage: --help exits 0, no database exits 2, a missing file exits 1', () => {
    const help = stateRoot('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: synddb-validator state-root --database PATH');
    const none = stateRoot();
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('--database PATH is required');
    const missing = stateRoot('--database', join(tempDir('synddb-dist-state-root-none-'), 'x.db'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no such file');
    const daemonHelp = spawnSync(process.execPath, [VALIDATOR_BIN, '--help'], { encoding: 'utf8' });
    expect(daemonHelp.stdout).toContain('--state-attestation-interval SEQUENCES');
    expect(daemonHelp.stdout).toContain('synddb-validator state-root --database PATH');
  });
});
