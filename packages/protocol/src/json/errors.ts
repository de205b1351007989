import { SyndDBError } from '../errors';

/** The `/storage/messages/{seq}` JSON does not have the SignedMessage shape. */
export class SignedMessageJsonError extends SyndDBError {
  override name = 'SignedMessageJsonError';
  declare readonly code: 'SIGNED_MESSAGE_JSON';
  override readonly kind = 'decode';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('SIGNED_MESSAGE_JSON', shortMessage, options);
  }
}

/** The outer sequence/timestamp/type disagree with the protected header they claim to describe. */
export class HeaderMismatchError extends SyndDBError {
  override name = 'HeaderMismatchError';
  declare readonly code: 'HEADER_MISMATCH';
  override readonly kind = 'verification';
  constructor(field: string, outer: string, header: string) {
    super('HEADER_MISMATCH', `${field} differs from the protected header`, {
      details: `${field}: outer=${outer} header=${header}`,
    });
  }
}
