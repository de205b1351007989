import { type CliProcess as DaemonCliProcess, runDaemonCli } from '@synddb/app-kit';
import packageJson from '../package.json' with { type: 'json' };
import { formatHelp } from './config/help';
import { parseValidatorArgs } from './config/parse-config';
import { ValidatorConfigError } from './errors';
import { startValidator, type ValidatorHandle } from './start-validator';

export const VERSION: string = packageJson.version;

/** The process the CLI runs in, injectable for tests (`onStarted` gets the validator handle). */
export type CliProcess = DaemonCliProcess<ValidatorHandle>;

/**
 * `synddb-validator`: parse flags and env, start, wait for SIGINT/SIGTERM, stop gracefully.
 * Resolves to the exit code: 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for
 * an invalid configuration. A second signal calls `exit` at once.
 */
export function runCli(proc: CliProcess): Promise<number> {
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
