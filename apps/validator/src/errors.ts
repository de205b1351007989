import { SyndDBError } from '@synddb/protocol';

/** One configuration problem, named by its flag and env var. */
export interface ConfigProblem {
  /** camelCase option key, e.g. `syncInterval`; `''` for command-line syntax errors. */
  key: string;
  /** e.g. `--sync-interval / SYNC_INTERVAL`. */
  names: string;
  /** Where the offending value came from, e.g. `env SYNC_INTERVAL="abc"`. */
  source: string | undefined;
  message: string;
}

/** The configuration is invalid; the CLI prints `message` and exits with code 2. */
export class ValidatorConfigError extends SyndDBError {
  override name = 'ValidatorConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) => `  ${p.names}${p.source === undefined ? '' : ` (${p.source})`}: ${p.message}`,
    );
    super('VALIDATOR_CONFIG', `invalid configuration:\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

/** Startup failed after the configuration was accepted (pubkey discovery, database, bind). */
export class ValidatorStartupError extends SyndDBError {
  override name = 'ValidatorStartupError';
  /** `details` defaults to the cause's message. */
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    const { cause } = options;
    const details =
      options.details ??
      (cause === undefined ? undefined : cause instanceof Error ? cause.message : String(cause));
    super('VALIDATOR_STARTUP', shortMessage, { cause, details });
  }
}
