import { type ErrorKind, SyndDBError } from '@synddb/protocol';

/** The error kind of an HTTP status: 503 unavailable, other 4xx input, the rest internal. */
const kindOfStatus = (status: number): ErrorKind =>
  status === 503 ? 'unavailable' : status >= 400 && status < 500 ? 'input' : 'internal';

/**
 * The one error type routes throw to answer with a JSON error body: `{"error", "code"}` and
 * `status`. Anything else that escapes a route becomes a 500 with code `INTERNAL`. Its `kind`
 * follows the status (4xx `input`, 503 `unavailable`, else `internal`) unless given.
 */
export class HttpApiError extends SyndDBError {
  override name = 'HttpApiError';
  readonly status: number;

  constructor(
    status: number,
    code: string,
    shortMessage: string,
    options: { details?: string; cause?: unknown; kind?: ErrorKind } = {},
  ) {
    super(code, shortMessage, { ...options, kind: options.kind ?? kindOfStatus(status) });
    this.status = status;
  }
}

/** `bindAddress` is not `host:port`, `:port` or `[ipv6]:port` with a port in 0..65535. */
export class BindAddressError extends SyndDBError {
  override name = 'BindAddressError';
  declare readonly code: 'HTTP_API_BIND_ADDRESS';
  override readonly kind = 'config';
  readonly address: string;

  constructor(address: string, reason: string) {
    super('HTTP_API_BIND_ADDRESS', `invalid bind address ${JSON.stringify(address)}: ${reason}`);
    this.address = address;
  }
}

/** The server could not listen (port in use, permission denied, unknown host). */
export class ListenError extends SyndDBError {
  override name = 'ListenError';
  declare readonly code: 'HTTP_API_LISTEN';
  override readonly kind = 'config';
  readonly address: string;

  constructor(address: string, cause: unknown) {
    const reason =
      typeof cause === 'object' && cause !== null && 'code' in cause
        ? String((cause as { code: unknown }).code)
        : String(cause);
    super('HTTP_API_LISTEN', `cannot listen on ${address} (${reason})`, { cause });
    this.address = address;
  }
}

/** An option given to `createValidatorApi` or `serveValidatorApi` is out of range. */
export class HttpApiConfigError extends SyndDBError {
  override name = 'HttpApiConfigError';
  declare readonly code: 'HTTP_API_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, details?: string) {
    super('HTTP_API_CONFIG', shortMessage, { details });
  }
}
