import packageJson from '../package.json' with { type: 'json' };
import { formatHelp } from './config/help';
import { type Environment, parseRelayerArgs } from './config/parse-config';
import { RelayerConfigError } from './errors';
import { createLogger, type Logger } from './logger';
import { type RelayerHandle, startRelayer } from './start-relayer';

export const VERSION: string = packageJson.version;

/** The process the CLI runs in, injectable for tests. */
export interface CliProcess {
  argv: readonly string[];
  env: Environment;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Subscribes to SIGINT/SIGTERM; returns an unsubscribe function. */
  onSignal: (listener: (signal: 'SIGINT' | 'SIGTERM') => void) => () => void;
  /** Immediate exit (second signal). */
  exit: (code: number) => void;
  /** Called once the relayer is serving (tests). */
  onStarted?: (handle: RelayerHandle) => void;
  logger?: Logger;
}

const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `synddb-relayer`: parse flags and env, start, wait for SIGINT/SIGTERM, stop gracefully.
 * Resolves to the exit code: 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for
 * an invalid configuration. A second signal calls `exit` at once.
 */
export async function runCli(proc: CliProcess): Promise<number> {
  let command: ReturnType<typeof parseRelayerArgs>;
  try {
    command = parseRelayerArgs(proc.argv, proc.env);
  } catch (error) {
    if (error instanceof RelayerConfigError) {
      proc.stderr(
        `synddb-relayer: ${error.message}\n\nRun synddb-relayer --help for the options.\n`,
      );
      return 2;
    }
    throw error;
  }
  if (command.kind === 'help') {
    proc.stdout(formatHelp(VERSION));
    return 0;
  }
  if (command.kind === 'version') {
    proc.stdout(`synddb-relayer ${VERSION}\n`);
    return 0;
  }
  const { config } = command;
  const logger =
    proc.logger ??
    createLogger({
      json: config.logJson,
      level: config.logLevel,
      write: (l) => proc.stdout(`${l}\n`),
    });

  const startup = new AbortController();
  let signalled: ((signal: 'SIGINT' | 'SIGTERM') => void) | undefined;
  const stopRequested = new Promise<'SIGINT' | 'SIGTERM'>((resolve) => {
    signalled = resolve;
  });
  let signals = 0;
  const unsubscribe = proc.onSignal((signal) => {
    signals++;
    if (signals === 1) {
      logger.info('shutdown requested', { signal, timeoutMs: config.shutdownTimeout });
      startup.abort(new Error(`${signal} during startup`));
      signalled?.(signal);
    } else {
      logger.warn('second signal: exiting immediately', { signal });
      proc.exit(SIGNAL_EXIT[signal]);
    }
  });

  try {
    let handle: RelayerHandle;
    try {
      handle = await startRelayer(config, { logger, signal: startup.signal });
    } catch (error) {
      if (startup.signal.aborted) {
        logger.info('startup interrupted');
        return 0;
      }
      if (error instanceof RelayerConfigError) {
        proc.stderr(`synddb-relayer: ${error.message}\n`);
        return 2;
      }
      logger.error('startup failed', { error: error as Error });
      return 1;
    }
    proc.onStarted?.(handle);
    await stopRequested;
    try {
      await handle.stop();
      return 0;
    } catch (error) {
      logger.error('shutdown incomplete', { error: error as Error });
      return 1;
    }
  } finally {
    unsubscribe();
  }
}
