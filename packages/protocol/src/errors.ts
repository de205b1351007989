/**
 * Base of every error thrown by @synddb packages. `code` is stable across releases and is what
 * callers, logs and metrics should branch on; `shortMessage` is a one-line human description and
 * `details` carries context (offsets, sizes, sequences).
 */
export class SyndDBError extends Error {
  override name = 'SyndDBError';
  readonly code: string;
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(
    code: string,
    shortMessage: string,
    options: { details?: string | undefined; cause?: unknown } = {},
  ) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}
