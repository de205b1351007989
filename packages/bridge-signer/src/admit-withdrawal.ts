import { bytesToHex, type WithdrawalRequest } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import { WithdrawalPolicyError } from './errors';
import {
  ALL_RECIPIENTS,
  type NewWithdrawalRecord,
  type WithdrawalLedger,
  withdrawalDay,
} from './ledger/withdrawal-ledger';
import type {
  Withdrawal,
  WithdrawalContext,
  WithdrawalDecision,
  WithdrawalValidator,
} from './policy/withdrawal-validator';
import { ODD_LENGTH_HEX_REASON, tryWithdrawalMessageId } from './try-withdrawal-message-id';
import { withdrawalOutboxEntry } from './withdrawal-outbox-entry';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const U256_MAX = (1n << 256n) - 1n;
/** Stored texts are for operators: keep a hostile or huge value from bloating the row. */
const MAX_TEXT = 1000;

export interface AdmitWithdrawalParameters {
  state: StateStore;
  ledger: WithdrawalLedger;
  /** Run in order; the first refusal decides. */
  validators: readonly WithdrawalValidator[];
  sequence: bigint;
  /** The message's sequencer timestamp (unix seconds). */
  timestamp: bigint;
  request: WithdrawalRequest;
}

export type AdmitWithdrawalReturnType = NewWithdrawalRecord;

function capped(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function isDecision(value: unknown): value is WithdrawalDecision {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as { ok?: unknown; reason?: unknown };
  return d.ok === true || (d.ok === false && typeof d.reason === 'string');
}

/**
 * Decides about one withdrawal, inside the transaction that applies its message, and records the
 * decision in the ledger:
 *
 * - **unsignable** when the Bridge could never know it: a request id the sequencer refuses
 *   (odd-length hex, so no message id), a recipient that is not `0x` + 40 hex, an amount that is
 *   not a decimal uint256;
 * - **refused** when a validator (policy) refuses it, with that validator's name and reason;
 * - **accepted** otherwise: added to the day's totals and queued in the outbox, to be signed after
 *   the commit.
 *
 * Everything a validator sees comes from the replicated stream (the message timestamp's UTC day,
 * totals of withdrawals accepted earlier), so replicas decide alike and a restart changes nothing.
 * A validator that throws or returns something other than a decision throws
 * `WithdrawalPolicyError`: the transaction rolls back and nothing is decided.
 */
export function admitWithdrawal(args: AdmitWithdrawalParameters): AdmitWithdrawalReturnType {
  const { ledger, request, sequence, timestamp } = args;
  const base = { sequence, timestamp, requestId: request.requestId };
  const record = (r: NewWithdrawalRecord): NewWithdrawalRecord => {
    ledger.insert(r);
    return r;
  };
  const id = tryWithdrawalMessageId(request.requestId);
  const messageId = id === null ? null : (`0x${bytesToHex(id)}` as const);
  const recipientOk = ADDRESS.test(request.recipient);
  const recipient = recipientOk ? request.recipient.toLowerCase() : capped(request.recipient);
  const amountOk = DECIMAL.test(request.amount) && BigInt(request.amount) <= U256_MAX;
  const amount = amountOk ? request.amount : capped(request.amount);
  const unsignable = (policy: string, reason: string) =>
    record({ ...base, messageId, recipient, amount, status: 'unsignable', policy, reason });
  if (messageId === null) return unsignable('message_id', ODD_LENGTH_HEX_REASON);
  if (!recipientOk) {
    return unsignable('recipient', 'recipient is not an address (0x + 40 hex digits)');
  }
  if (!amountOk) {
    return unsignable('amount', 'amount is not a decimal uint256 without leading zeros');
  }

  const withdrawal: Withdrawal = {
    sequence,
    timestamp,
    requestId: request.requestId,
    messageId,
    recipient: recipient as `0x${string}`,
    amount: BigInt(amount),
    data: request.data,
  };
  const day = withdrawalDay(timestamp);
  // Each total is read at most once per withdrawal, and reused to update the totals.
  let totalAll: bigint | undefined;
  let totalRecipient: bigint | undefined;
  const context: WithdrawalContext = {
    day,
    acceptedToday: () => {
      totalAll ??= ledger.acceptedTotal(day, ALL_RECIPIENTS);
      return totalAll;
    },
    acceptedTodayTo: (to) => {
      const key = to.toLowerCase();
      if (key !== recipient) return ledger.acceptedTotal(day, key);
      totalRecipient ??= ledger.acceptedTotal(day, recipient);
      return totalRecipient;
    },
  };
  for (const validator of args.validators) {
    let decision: unknown;
    try {
      decision = validator.validate(withdrawal, context);
    } catch (cause) {
      throw new WithdrawalPolicyError(`Withdrawal validator ${validator.name} threw`, {
        details: `at sequence ${sequence}`,
        cause,
      });
    }
    if (!isDecision(decision)) {
      throw new WithdrawalPolicyError(
        `Withdrawal validator ${validator.name} returned no decision`,
        { details: `at sequence ${sequence}: expected { ok: true } or { ok: false, reason }` },
      );
    }
    if (!decision.ok) {
      return record({
        ...base,
        messageId,
        recipient,
        amount,
        status: 'refused',
        policy: capped(String(validator.name)),
        reason: capped(decision.reason),
      });
    }
  }
  const accepted = record({ ...base, messageId, recipient, amount, status: 'accepted' });
  ledger.addAccepted(day, recipient, withdrawal.amount, {
    recipient: totalRecipient,
    all: totalAll,
  });
  args.state.enqueue(withdrawalOutboxEntry({ sequence, request, messageId }));
  return accepted;
}
