import { configErrorClass, startupErrorClass } from '@synddb/app-kit';
import { SyndDBError } from '@synddb/protocol';

export type { ConfigProblem } from '@synddb/app-kit';

/** The configuration is invalid; the CLI prints `message` and exits with code 2. */
export class RelayerConfigError extends configErrorClass('RelayerConfigError', 'RELAYER_CONFIG') {}

/**
 * Startup failed after the configuration was accepted: the key or keystore, the job database,
 * the chain (wrong chain id, no Bridge at the address), the bind address.
 */
export class RelayerStartupError extends startupErrorClass(
  'RelayerStartupError',
  'RELAYER_STARTUP',
) {}

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
