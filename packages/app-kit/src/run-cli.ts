import type { Environment } from './command-line';
import { createLogger, type Logger, type LogLevel } from './logger';

/** The process the CLI runs in, injectable for tests. */
export interface CliProcess<Handle = unknown> {
  argv: readonly string[];
  env: Environment;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Subscribes to SIGINT/SIGTERM; returns an unsubscribe function. */
  onSignal: (listener: (signal: 'SIGINT' | 'SIGTERM') => void) => () => void;
  /** Immediate exit (second signal). */
  exit: (code: number) => void;
  /** Called once the daemon is serving (tests). */
  onStarted?: (handle: Handle) => void;
  logger?: Logger;
}

/** The settings every daemon has. */
export interface DaemonConfig {
  logJson: boolean;
  logLevel: LogLevel;
  /** Milliseconds. */
  shutdownTimeout: number;
}

/** What `runDaemonCli` needs from an app. */
export interface DaemonCli<Config extends DaemonConfig, Handle extends { stop(): Promise<void> }> {
  /** The binary's name, prefixed to its messages, e.g. `synddb-validator`. */
  name: string;
  version: string;
  /** Parses flags and env; throws a configuration error (see `isConfigError`). */
  parse: (
    argv: readonly string[],
    env: Environment,
  ) => { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: Config };
  /** The `--help` text. */
  help: () => string;
  /** Errors meaning an invalid configuration (exit code 2). */
  isConfigError: (error: unknown) => boolean;
  start: (config: Config, options: { logger: Logger; signal: AbortSignal }) => Promise<Handle>;
}

const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * A daemon's command line: parse flags and env, start, wait for SIGINT/SIGTERM, stop gracefully.
 * Resolves to the exit code: 0 after a graceful stop, 1 on a startup or shutdown failure, 2 for
 * an invalid configuration. A second signal calls `exit` at once.
 */
export async function runDaemonCli<
  Config extends DaemonConfig,
  Handle extends { stop(): Promise<void> },
>(cli: DaemonCli<Config, Handle>, proc: CliProcess<Handle>): Promise<number> {
  let command: ReturnType<typeof cli.parse>;
  try {
    command = cli.parse(proc.argv, proc.env);
  } catch (error) {
    if (cli.isConfigError(error)) {
      proc.stderr(
        `${cli.name}: ${(error as Error).message}\n\nRun ${cli.name} --help for the options.\n`,
      );
      return 2;
    }
    throw error;
  }
  if (command.kind === 'help') {
    proc.stdout(cli.help());
    return 0;
  }
  if (command.kind === 'version') {
    proc.stdout(`${cli.name} ${cli.version}\n`);
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
    let handle: Handle;
    try {
      handle = await cli.start(config, { logger, signal: startup.signal });
    } catch (error) {
      if (startup.signal.aborted) {
        logger.info('startup interrupted');
        return 0;
      }
      if (cli.isConfigError(error)) {
        proc.stderr(`${cli.name}: ${(error as Error).message}\n`);
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

/**
 * Runs `run` as the process's main: real argv, env, stdio and signals; exits with its code. An
 * unexpected rejection prints `<name>: unexpected failure: ...` and exits with 1.
 */
export function runMain<Handle>(
  name: string,
  run: (proc: CliProcess<Handle>) => Promise<number>,
): void {
  const listeners = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
  const forward = (signal: 'SIGINT' | 'SIGTERM') => {
    for (const l of listeners) l(signal);
  };

  // Holds the event loop until `run` settles: start-up awaits things (worker threads, child
  // processes) that may not keep Node alive on their own, and a daemon must never end with its
  // start-up promise pending (it once exited silently with status 0 that way).
  const keepAlive = setInterval(() => {}, 2 ** 30);

  run({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    onSignal: (listener) => {
      if (listeners.size === 0) {
        process.on('SIGINT', forward);
        process.on('SIGTERM', forward);
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          process.off('SIGINT', forward);
          process.off('SIGTERM', forward);
        }
      };
    },
    exit: (code) => process.exit(code),
  }).then(
    (code) => {
      clearInterval(keepAlive);
      // Lingering keep-alive sockets or worker threads must not hold a stopped daemon open.
      process.stdout.write('', () => process.exit(code));
    },
    (error: unknown) => {
      clearInterval(keepAlive);
      process.stderr.write(`${name}: unexpected failure: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
