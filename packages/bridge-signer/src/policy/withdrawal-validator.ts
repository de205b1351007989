/** A withdrawal as policies see it: checked, with its message id, recipient and exact amount. */
export interface Withdrawal {
  /** Sequence of the message that carried it (one withdrawal per message). */
  sequence: bigint;
  /** The sequencer's timestamp of that message, unix seconds. */
  timestamp: bigint;
  requestId: string;
  /** The sequencer's message id, `0x` + 64 lowercase hex. */
  messageId: `0x${string}`;
  /** `0x` + 40 lowercase hex. */
  recipient: `0x${string}`;
  /** Exact uint256. */
  amount: bigint;
  data: Uint8Array;
}

/**
 * What a policy may know besides the withdrawal, all derived from the replicated stream: the day
 * is the UTC day of the message's own timestamp (not the wall clock) and the totals are sums of
 * the withdrawals accepted earlier in the stream. Every validator replaying the same stream sees
 * the same context, and a restart changes nothing.
 */
export interface WithdrawalContext {
  /** UTC day of the message timestamp: `timestamp / 86400`. */
  readonly day: bigint;
  /** Sum of the amounts accepted earlier on `day`, to every recipient. */
  acceptedToday(): bigint;
  /** Sum of the amounts accepted earlier on `day` to `recipient` (any case). */
  acceptedTodayTo(recipient: string): bigint;
}

export type WithdrawalDecision = { ok: true } | { ok: false; reason: string };

/**
 * The extension point for withdrawal policies: an embedder implements `validate` and passes the
 * validator to the bridge signer. It runs inside the transaction that applies the withdrawal, so
 * it must be synchronous, and it must be **deterministic**: decide only from the withdrawal and the
 * context (never the wall clock, randomness or the network), or validators replaying the same
 * stream will disagree. Throwing halts sync at the withdrawal (it is retried, never skipped).
 */
export interface WithdrawalValidator {
  /** Short stable name, recorded with a refusal and used as a metric label. */
  readonly name: string;
  validate(withdrawal: Withdrawal, context: WithdrawalContext): WithdrawalDecision;
}

const OK: WithdrawalDecision = Object.freeze({ ok: true });

/** The decision to accept. */
export function accept(): WithdrawalDecision {
  return OK;
}

/** The decision to refuse, with a reason for operators (recorded and served). */
export function refuse(reason: string): WithdrawalDecision {
  return { ok: false, reason };
}
