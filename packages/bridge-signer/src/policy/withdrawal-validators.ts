import {
  globalDailyCap,
  maxWithdrawalAmount,
  recipientAllowList,
  recipientDailyLimit,
  recipientDenyList,
} from './built-in-validators';
import type { WithdrawalValidator } from './withdrawal-validator';

/** The built-in policies; every one is off when its option is absent. */
export interface WithdrawalPolicyOptions {
  /** Per-withdrawal maximum amount. */
  maxWithdrawal?: bigint | undefined;
  /** Per-recipient total per UTC day (of the message timestamps). */
  recipientDailyLimit?: bigint | undefined;
  /** Total of all withdrawals per UTC day. */
  globalDailyCap?: bigint | undefined;
  /** Only these recipients may receive (any case). */
  allowRecipients?: readonly string[] | undefined;
  /** These recipients never receive (any case). */
  denyRecipients?: readonly string[] | undefined;
}

/**
 * The built-in validators for `options`, in a fixed order (deny list, allow list, per-withdrawal
 * maximum, per-recipient daily limit, global daily cap), followed by `custom` ones. The first
 * refusal decides, so a withdrawal's recorded reason does not depend on option order.
 */
export function withdrawalValidators(
  options: WithdrawalPolicyOptions,
  custom: readonly WithdrawalValidator[] = [],
): WithdrawalValidator[] {
  const out: WithdrawalValidator[] = [];
  if (options.denyRecipients !== undefined) out.push(recipientDenyList(options.denyRecipients));
  if (options.allowRecipients !== undefined) out.push(recipientAllowList(options.allowRecipients));
  if (options.maxWithdrawal !== undefined) out.push(maxWithdrawalAmount(options.maxWithdrawal));
  if (options.recipientDailyLimit !== undefined) {
    out.push(recipientDailyLimit(options.recipientDailyLimit));
  }
  if (options.globalDailyCap !== undefined) out.push(globalDailyCap(options.globalDailyCap));
  return [...out, ...custom];
}
