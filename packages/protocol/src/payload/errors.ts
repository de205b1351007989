import { SyndDBError } from '../errors';

/** Payload CBOR is well formed but not the struct its message type requires. */
export class PayloadDecodeError extends SyndDBError {
  override name = 'PayloadDecodeError';
  declare readonly code: 'PAYLOAD_DECODE';
  override readonly kind = 'decode';
  readonly offset: number;
  constructor(shortMessage: string, offset: number) {
    super('PAYLOAD_DECODE', shortMessage, { details: `offset ${offset}` });
    this.offset = offset;
  }
}
