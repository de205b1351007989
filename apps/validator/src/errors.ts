import { configErrorClass, startupErrorClass } from '@synddb/app-kit';

export type { ConfigProblem } from '@synddb/app-kit';

/** The configuration is invalid; the CLI prints `message` and exits with code 2. */
export class ValidatorConfigError extends configErrorClass(
  'ValidatorConfigError',
  'VALIDATOR_CONFIG',
) {}

/**
 * Startup failed after the configuration was accepted (pubkey discovery, database, bind): the
 * setup cannot be used as configured. `cause` says why (`walk()` finds the innermost error);
 * `details` default to its text.
 */
export class ValidatorStartupError extends startupErrorClass(
  'ValidatorStartupError',
  'VALIDATOR_STARTUP',
) {}
