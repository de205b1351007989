import { bytesToHex, type WithdrawalRequest } from '@synddb/protocol';
import type { OutboxEnqueueParameters } from '@synddb/state-store';
import { withdrawalMessageId } from './withdrawal-message-id';

/** The outbox `kind` of withdrawals; the outbox signer signs only entries of this kind. */
export const WITHDRAWAL_OUTBOX_KIND = 'withdrawal';

const utf8 = new TextEncoder();

export interface WithdrawalOutboxEntryParameters {
  /** Sequence of the message that carried the withdrawal. */
  sequence: bigint;
  request: WithdrawalRequest;
  /** The request's message id (`0x` + 64 hex) when already derived; derived here otherwise. */
  messageId?: string | undefined;
}

/**
 * The outbox entry for a withdrawal, to `StateStore.enqueue` inside the transaction that applies
 * its message (so only committed withdrawals are ever signed). The message id follows the
 * sequencer's rule; the body is the request as JSON (`request_id`, `recipient`, `amount`, `data`
 * as `0x` hex) for audit — only the message id is signed.
 */
export function withdrawalOutboxEntry(
  args: WithdrawalOutboxEntryParameters,
): OutboxEnqueueParameters {
  const { request } = args;
  return {
    messageId: args.messageId ?? `0x${bytesToHex(withdrawalMessageId(request.requestId))}`,
    sequence: args.sequence,
    kind: WITHDRAWAL_OUTBOX_KIND,
    body: utf8.encode(
      JSON.stringify({
        request_id: request.requestId,
        recipient: request.recipient,
        amount: request.amount,
        data: `0x${bytesToHex(request.data)}`,
      }),
    ),
  };
}
