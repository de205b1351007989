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
  declare readonly code: 'VALIDATOR_CONFIG';
  override readonly kind = 'config';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) => `  ${p.names}${p.source === undefined ? '' : ` (${p.source})`}: ${p.message}`,
    );
    super('VALIDATOR_CONFIG', `invalid configuration:\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

/**
 * Startup failed after the configuration was accepted (pubkey discovery, database, bind): the
 * setup cannot be used as configured. `cause` says why (`walk()` finds the innermost error);
 * `details` default to its text.
 */
export class ValidatorStartupError extends SyndDBError {
  override name = 'ValidatorStartupError';
  declare readonly code: 'VALIDATOR_STARTUP';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('VALIDATOR_STARTUP', shortMessage, options);
  }
}
