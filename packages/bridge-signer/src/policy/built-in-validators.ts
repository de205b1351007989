import { WithdrawalPolicyConfigError } from '../errors';
import {
  accept,
  refuse,
  type Withdrawal,
  type WithdrawalContext,
  type WithdrawalDecision,
  type WithdrawalValidator,
} from './withdrawal-validator';

const U256_MAX = (1n << 256n) - 1n;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function checkAmount(name: string, value: bigint): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U256_MAX) {
    throw new WithdrawalPolicyConfigError(`${name} must be a uint256`, {
      details: `got ${String(value).slice(0, 90)}`,
    });
  }
  return value;
}

function addressSet(name: string, addresses: readonly string[]): Set<string> {
  const set = new Set<string>();
  for (const address of addresses) {
    if (typeof address !== 'string' || !ADDRESS.test(address)) {
      throw new WithdrawalPolicyConfigError(`${name} holds something other than an address`, {
        details: `got ${JSON.stringify(String(address).slice(0, 60))}`,
      });
    }
    set.add(address.toLowerCase());
  }
  return set;
}

function validator(
  name: string,
  validate: (w: Withdrawal, c: WithdrawalContext) => WithdrawalDecision,
): WithdrawalValidator {
  return Object.freeze({ name, validate });
}

/** Refuses a withdrawal whose amount is above `max`. */
export function maxWithdrawalAmount(max: bigint): WithdrawalValidator {
  checkAmount('max withdrawal amount', max);
  return validator('max_withdrawal', (w) =>
    w.amount > max
      ? refuse(`amount ${w.amount} is above the per-withdrawal maximum ${max}`)
      : accept(),
  );
}

/**
 * Refuses a withdrawal that would bring the amounts accepted to its recipient on the message's
 * UTC day above `limit`.
 */
export function recipientDailyLimit(limit: bigint): WithdrawalValidator {
  checkAmount('recipient daily limit', limit);
  return validator('recipient_daily_limit', (w, c) => {
    const before = c.acceptedTodayTo(w.recipient);
    return before + w.amount > limit
      ? refuse(
          `recipient ${w.recipient} would receive ${before + w.amount} on day ${c.day} (already ${before}), above the per-recipient daily limit ${limit}`,
        )
      : accept();
  });
}

/** Refuses a withdrawal that would bring all amounts accepted on the message's UTC day above `cap`. */
export function globalDailyCap(cap: bigint): WithdrawalValidator {
  checkAmount('global daily cap', cap);
  return validator('global_daily_cap', (w, c) => {
    const before = c.acceptedToday();
    return before + w.amount > cap
      ? refuse(
          `withdrawals on day ${c.day} would total ${before + w.amount} (already ${before}), above the global daily cap ${cap}`,
        )
      : accept();
  });
}

/** Refuses every recipient not on the list (any case). */
export function recipientAllowList(addresses: readonly string[]): WithdrawalValidator {
  const allowed = addressSet('recipient allow list', addresses);
  return validator('recipient_allow_list', (w) =>
    allowed.has(w.recipient)
      ? accept()
      : refuse(`recipient ${w.recipient} is not on the allow list`),
  );
}

/** Refuses every recipient on the list (any case). */
export function recipientDenyList(addresses: readonly string[]): WithdrawalValidator {
  const denied = addressSet('recipient deny list', addresses);
  return validator('recipient_deny_list', (w) =>
    denied.has(w.recipient) ? refuse(`recipient ${w.recipient} is on the deny list`) : accept(),
  );
}
