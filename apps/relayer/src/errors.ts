import { SyndDBError } from '@synddb/protocol';

/** One configuration problem, named by its flag and env var. */
export interface ConfigProblem {
  /** camelCase option key, e.g. `rpcUrl`; `''` for command-line syntax errors. */
  key: string;
  /** e.g. `--rpc-url / RPC_URL`. */
  names: string;
  /** Where the offending value came from, e.g. `env RPC_URL="abc"`. */
  source: string | undefined;
  message: string;
}

/** The configuration is invalid; the CLI prints `message` and exits with code 2. */
export class RelayerConfigError extends SyndDBError {
  override name = 'RelayerConfigError';
  declare readonly code: 'RELAYER_CONFIG';
  override readonly kind = 'config';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) => `  ${p.names}${p.source === undefined ? '' : ` (${p.source})`}: ${p.message}`,
    );
    super('RELAYER_CONFIG', `invalid configuration:\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

/**
 * Startup failed after the configuration was accepted: the key or keystore, the job database,
 * the chain (wrong chain id, no Bridge at the address), the bind address.
 */
export class RelayerStartupError extends SyndDBError {
  override name = 'RelayerStartupError';
  declare readonly code: 'RELAYER_STARTUP';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('RELAYER_STARTUP', shortMessage, options);
  }
}

/** A request the relayer refuses (HTTP 4xx). */
export class RelayerRequestError extends SyndDBError {
  override name = 'RelayerRequestError';
  declare readonly code: 'RELAYER_REQUEST';
  override readonly kind = 'input';
  readonly status: 400 | 403 | 409 | 413;
  constructor(status: 400 | 403 | 409 | 413, shortMessage: string, details?: string) {
    super('RELAYER_REQUEST', shortMessage, { details });
    this.status = status;
  }
}
