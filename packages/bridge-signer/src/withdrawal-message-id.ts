import { WithdrawalMessageIdError } from './errors';
import { ODD_LENGTH_HEX_REASON, tryWithdrawalMessageId } from './try-withdrawal-message-id';

/**
 * The sequencer's message id for a withdrawal `request_id` (docs/protocol.md#withdrawal-message-id),
 * the id the Bridge knows the withdrawal by: see {@link tryWithdrawalMessageId} for the rule. A
 * `request_id` the sequencer refuses (odd-length hex) has no id and throws
 * `WithdrawalMessageIdError`.
 *
 * The Rust validator uses a different rule (only `0x` + exactly 64 hex is taken as-is,
 * docs/defects-fixed.md#message-id-rule), so its ids diverge from the sequencer's for short,
 * long, unprefixed or `0X`-prefixed hex. Validators here use the sequencer's rule.
 */
export function withdrawalMessageId(requestId: string): Uint8Array {
  const id = tryWithdrawalMessageId(requestId);
  if (id === null) {
    throw new WithdrawalMessageIdError(ODD_LENGTH_HEX_REASON, {
      details: `request_id ${JSON.stringify(requestId.slice(0, 80))}${requestId.length > 80 ? '…' : ''} (${requestId.length} characters)`,
    });
  }
  return id;
}
