/**
 * The built `synddb-validator` binary (apps/validator/dist/cli.js) as its own process, against
 * the built devnet sequencer and sample app in another process: what operators run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir, testRandom } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import {
  type RunningProcess,
  startDevnet,
  startValidator,
  tail,
  VALIDATOR_BIN,
} from '../support/processes';
import { dumpDatabase, integrityCheck } from '../support/sqlite-dump';
import {
  caughtUp,
  errorLines,
  expectEveryWithdrawalSigned,
  validatorArgs,
} from '../support/validator-checks';

/** Rejects as soon as `process` exits: race it with a wait that needs the process alive. */
function exitsEarly(process: RunningProcess): Promise<never> {
  return process.exited.then((exit) => {
    throw new Error(`${process.name} exited: ${JSON.stringify(exit)}\n${tail(process.lines)}`);
  });
}

describe('the built synddb-validator binary', () => {
  it('prints --help and --version and exits 0; a bad flag exits 2 with a clear message', () => {
    const help = spawnSync(process.execPath, [VALIDATOR_BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: synddb-validator [options]');
    expect(help.stdout).toContain('--sequencer-url URL');
    const version = spawnSync(process.execPath, [VALIDATOR_BIN, '--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^synddb-validator \d+\.\d+\.\d+\n$/);
    const bad = spawnSync(process.execPath, [VALIDATOR_BIN, '--no-such-flag'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/no-such-flag/);
  });

  it('keeps running after start-up (it used to exit at once with status 0 when verify threads >= 1)', async () => {
    const dir = tempDir('synddb-dist-start-');
    const devnet = await startDevnet({
      directory: dir,
      args: ['--transactions', '5', '--rate', '100'],
    });
    const validator = await startValidator(
      validatorArgs(devnet, join(dir, 'replica.db'), { extra: ['--verify-threads', '2'] }),
    );
    expect(validator.lines.join('\n')).toMatch(/verifyThreads=2/);
    // still serving well after start-up: it syncs the whole stream, through its verify threads
    await devnet.appDone();
    const head = await devnet.flushedHead();
    await Promise.race([caughtUp(validator, head), exitsEarly(validator)]);
    expect(validator.child.exitCode).toBeNull();
    expect((await fetch(`${validator.url}/health`)).status).toBe(200);
    validator.kill('SIGTERM');
    expect(await validator.exited).toEqual({ code: 0, signal: null });
  });

  it('replicates snapshots, schema changes and withdrawals to the end, answers queries, signs, exits 0 on SIGTERM', async () => {
    const dir = tempDir('synddb-dist-sync-');
    const devnet = await startDevnet({
      directory: dir,
      args: [
        '--transactions',
        '400',
        '--rate',
        '2000',
        '--seed',
        '11',
        '--snapshot-every',
        '150',
        '--schema-change-every',
        '90',
        '--batch-max-messages',
        '25',
        '--flush-interval-ms',
        '200',
      ],
    });
    const replica = join(dir, 'replica.db');
    // started while the sample app writes: it syncs live traffic, not only a finished backlog
    const validator = await startValidator(validatorArgs(devnet, replica));
    expect(validator.lines.join('\n')).toMatch(/queryWorkers=[1-9]/);
    await devnet.appDone();
    const head = await devnet.flushedHead();
    await caughtUp(validator, head);

    // POST /query: read-only SQL on the replica, with the sequence it reflects
    const sql = 'SELECT id, owner, CAST(balance AS TEXT) AS balance FROM accounts ORDER BY id';
    const response = await fetch(`${validator.url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql, min_sequence: Number(head) }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-syndDB-sequence')).toBe(String(head));
    const body = (await response.json()) as {
      columns: string[];
      rows: unknown[][];
      sequence: number;
    };
    expect(body.columns).toEqual(['id', 'owner', 'balance']);
    expect(body.sequence).toBe(Number(head));
    const { DatabaseSync } = await import('node:sqlite');
    const source = new DatabaseSync(devnet.appDb, { readOnly: true });
    const expected = (
      source.prepare(sql).all() as { id: number; owner: string; balance: string }[]
    ).map((r) => [r.id, r.owner, r.balance]);
    source.close();
    expect(body.rows).toEqual(expected);
    // writes are refused
    const write = await fetch(`${validator.url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'DELETE FROM accounts' }),
    });
    expect(write.status).toBeGreaterThanOrEqual(400);

    await expectEveryWithdrawalSigned(validator, devnet.appDb);
    const metrics = await (await fetch(`${validator.url}/metrics`)).text();
    expect(metrics).toMatch(/^synddb_validator_withdrawals_signed_total [1-9]\d*$/m);

    validator.kill('SIGTERM');
    expect(await validator.exited).toEqual({ code: 0, signal: null });
    expect(validator.lines.join('\n')).toContain('synddb-validator stopped');
    expect(errorLines(validator.lines)).toEqual([]);

    const replicated = dumpDatabase(replica);
    expect(replicated).toEqual(dumpDatabase(devnet.appDb));
    // the stream really had schema changes: columns and tables made mid-stream are replicated
    expect(replicated.find((t) => t.name === 'accounts')?.sql).toMatch(/attr_0/);
    expect(replicated.some((t) => t.name.startsWith('audit_'))).toBe(true);
    expect(integrityCheck(replica)).toBe('ok');
  });

  it('resumes after SIGKILL at random moments with the replica equal to the source and every withdrawal signed once', async () => {
    // The kill moments and the devnet's workload: printed, replayed with SYNDDB_TEST_SEED.
    const random = testRandom('SIGKILL moments and devnet workload');
    const dir = tempDir('synddb-dist-kill-');
    const devnet = await startDevnet({
      directory: dir,
      args: [
        '--transactions',
        '1500',
        '--rate',
        '5000',
        '--seed',
        String(random.seed % 1000),
        '--snapshot-every',
        '400',
        '--schema-change-every',
        '350',
        '--batch-max-messages',
        '10',
        '--flush-interval-ms',
        '200',
      ],
    });
    const replica = join(dir, 'replica.db');
    const args = validatorArgs(devnet, replica, { extra: ['--max-messages-per-transaction', '7'] });
    let head: bigint | undefined;
    void devnet.appDone().then(async () => {
      head = await devnet.flushedHead();
    });
    const kills = 5;
    let killedMidway = 0;
    for (let round = 0; round < kills; round++) {
      const validator = await startValidator(args);
      // a random moment on purpose: the kill must be safe wherever it lands
      await new Promise((r) => setTimeout(r, 50 + random.int(700)));
      const before = await validator.status().catch(() => null);
      validator.kill('SIGKILL');
      const exit = await validator.exited;
      expect(exit.signal, tail(validator.lines)).toBe('SIGKILL');
      if (before !== null && (head === undefined || BigInt(before.last_sequence ?? -1) < head)) {
        killedMidway++;
      }
      expect(integrityCheck(replica)).toBe('ok');
    }
    expect(killedMidway).toBeGreaterThan(0);
    await devnet.appDone();
    head ??= await devnet.flushedHead();
    const last = await startValidator(args);
    await caughtUp(last, head);
    await expectEveryWithdrawalSigned(last, devnet.appDb);
    last.kill('SIGTERM');
    expect(await last.exited).toEqual({ code: 0, signal: null });
    expect(errorLines(last.lines)).toEqual([]);
    expect(dumpDatabase(replica)).toEqual(dumpDatabase(devnet.appDb));
    expect(integrityCheck(replica)).toBe('ok');
  });
});
