import { type CliProcess as DaemonCliProcess, runDaemonCli } from '@synddb/app-kit';
import packageJson from '../package.json' with { type: 'json' };
import { formatHelp } from './config/help';
import { parseValidatorArgs } from './config/parse-config';
import { ValidatorConfigError } from './errors';
import { startValidator, type ValidatorHandle } from './start-validator';
import { runStateRootCommand } from './state-root-command';

export const VERSION: string = packageJson.version;

/** The process the CLI runs in, injectable for tests (`onStarted` gets the validator handle). */
export type CliProcess = DaemonCliProcess<ValidatorHandle>;

/**
 * `synddb-validator`: parse flags and env, start, wait for SIGINT/SIGTERM, stop gracefully
 * (or `synddb-validator state-root --database PATH`: print a replica's state root and exit).
 * Resolves to the exit code: 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for
 * an invalid configuration. A second signal calls `exit` at once.
 */
export function runCli(proc: CliProcess): Promise<number> {
  // `synddb-validator state-root --database PATH`: a one-shot command, not the daemon.
  if (proc.argv[0] === 'state-root') {
    return Promise.resolve(runStateRootCommand(proc.argv.slice(1), proc));
  }
  return runDaemonCli(
    {
      name: 'synddb-validator',
      version: VERSION,
      parse: parseValidatorArgs,
      help: () => formatHelp(VERSION),
      isConfigError: (error) => error instanceof ValidatorConfigError,
      start: startValidator,
    },
    proc,
  );
}
