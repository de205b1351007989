import { tryWithdrawalMessageId } from '@synddb/bridge-signer';
import type { WithdrawalRequest } from '@synddb/protocol';
import { IngestRequestError } from '../errors';

const RECIPIENT = /^0x[0-9a-fA-F]{40}$/;
const AMOUNT = /^(0|[1-9][0-9]*)$/;
const U128_MAX = (1n << 128n) - 1n;

/**
 * The sequencer's ingestion checks for a withdrawal (docs/protocol.md#withdrawal-payload,
 * docs/protocol.md#sequencer-ingestion-api): a non-empty request_id that has a message id (not
 * odd-length hex, docs/protocol.md#withdrawal-message-id), a `0x` + 40 hex recipient, and a
 * canonical decimal amount that fits the u128 the bridge-signature path parses it as. Runs before
 * anything is sequenced. Returns the amount and the message id.
 */
export function validateWithdrawal(request: WithdrawalRequest): {
  amount: bigint;
  messageId: Uint8Array;
} {
  if (request.requestId.length === 0) {
    throw new IngestRequestError(400, 'request_id must not be empty');
  }
  const messageId = tryWithdrawalMessageId(request.requestId);
  if (messageId === null) {
    throw new IngestRequestError(
      400,
      `Invalid request_id: hex with an odd number of digits has no message id, got ${JSON.stringify(request.requestId.slice(0, 80))}`,
    );
  }
  if (!RECIPIENT.test(request.recipient)) {
    throw new IngestRequestError(
      400,
      `Invalid recipient address: expected 0x followed by 40 hex characters, got ${JSON.stringify(request.recipient.slice(0, 80))}`,
    );
  }
  if (!AMOUNT.test(request.amount)) {
    throw new IngestRequestError(
      400,
      `Invalid amount: expected a decimal integer without leading zeros, got ${JSON.stringify(request.amount.slice(0, 80))}`,
    );
  }
  const amount = BigInt(request.amount);
  if (amount > U128_MAX) {
    throw new IngestRequestError(400, 'Invalid amount: exceeds the u128 range');
  }
  return { amount, messageId };
}
