import { SyndDBError } from '@synddb/protocol';
import { type ConfigProblem, formatConfigProblems } from './command-line';

/**
 * Base of a daemon's configuration error: the configuration is invalid; the CLI prints `message`
 * (`invalid configuration:` and one line per problem) and exits with code 2. Each app subclasses
 * it with its own `name` and `code`.
 */
export abstract class DaemonConfigError extends SyndDBError {
  override readonly kind = 'config';
  readonly problems: readonly ConfigProblem[];

  constructor(code: string, problems: readonly ConfigProblem[]) {
    super(code, formatConfigProblems(problems));
    this.problems = problems;
  }
}

/**
 * Base of a daemon's startup error: startup failed after the configuration was accepted, the
 * setup cannot be used as configured. `cause` says why (`walk()` finds the innermost error);
 * `details` default to its text. Each app subclasses it with its own `name` and `code`.
 */
export abstract class DaemonStartupError extends SyndDBError {
  override readonly kind = 'config';

  constructor(
    code: string,
    shortMessage: string,
    options: { details?: string; cause?: unknown } = {},
  ) {
    super(code, shortMessage, options);
  }
}

/**
 * A daemon's configuration error class with its own `name` and `code`:
 * `class ValidatorConfigError extends configErrorClass('ValidatorConfigError', 'VALIDATOR_CONFIG') {}`.
 */
export function configErrorClass<const Name extends string, const Code extends string>(
  name: Name,
  code: Code,
) {
  return class extends DaemonConfigError {
    override name: Name = name;
    declare readonly code: Code;
    constructor(problems: readonly ConfigProblem[]) {
      super(code, problems);
    }
  };
}

/**
 * A daemon's startup error class with its own `name` and `code`:
 * `class ValidatorStartupError extends startupErrorClass('ValidatorStartupError', 'VALIDATOR_STARTUP') {}`.
 */
export function startupErrorClass<const Name extends string, const Code extends string>(
  name: Name,
  code: Code,
) {
  return class extends DaemonStartupError {
    override name: Name = name;
    declare readonly code: Code;
    constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
      super(code, shortMessage, options);
    }
  };
}
