import { SyndDBError } from '../errors';

/** Payload CBOR is well formed but not the struct its message type requires. */
export class PayloadDecodeError extends SyndDBError {
  override name = 'PayloadDecodeError';
  readonly offset: number;
  constructor(shortMessage: string, offset: number) {
    super('PAYLOAD_DECODE', shortMessage, { details: `offset ${offset}` });
    this.offset = offset;
  }
}
