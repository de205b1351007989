import { WithdrawalPolicyConfigError, type WithdrawalPolicyOptions } from '@synddb/bridge-signer';
import { z } from 'zod';
import type { ValidatorConfig } from './config-schema';
import { readJsonFile } from './json-file';

/** A policy file larger than this is refused (it holds a few amounts and address lists). */
const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;
const U256_MAX = (1n << 256n) - 1n;

const amount = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a uint256 as a decimal string')
  .transform((v) => BigInt(v))
  .refine((v) => v <= U256_MAX, 'expected a uint256 as a decimal string');
const addresses = z
  .array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected an address (0x + 40 hex digits)'))
  .max(100_000)
  .transform((list) => list.map((a) => a.toLowerCase()));

/** `WITHDRAWAL_POLICY_FILE`: every key optional, no other key accepted. */
export const withdrawalPolicyFileSchema = z.strictObject({
  max_withdrawal: amount.optional(),
  recipient_daily_limit: amount.optional(),
  global_daily_cap: amount.optional(),
  allow_recipients: addresses.optional(),
  deny_recipients: addresses.optional(),
});

const FILE_TO_CONFIG = {
  max_withdrawal: ['maxWithdrawal', 'withdrawalMaxAmount', 'WITHDRAWAL_MAX_AMOUNT'],
  recipient_daily_limit: [
    'recipientDailyLimit',
    'withdrawalRecipientDailyLimit',
    'WITHDRAWAL_RECIPIENT_DAILY_LIMIT',
  ],
  global_daily_cap: ['globalDailyCap', 'withdrawalDailyCap', 'WITHDRAWAL_DAILY_CAP'],
  allow_recipients: ['allowRecipients', 'withdrawalAllowRecipients', 'WITHDRAWAL_ALLOW_RECIPIENTS'],
  deny_recipients: ['denyRecipients', 'withdrawalDenyRecipients', 'WITHDRAWAL_DENY_RECIPIENTS'],
} as const;

/** Reads and checks a policy file (size-capped, strict JSON schema). */
export function readWithdrawalPolicyFile(
  path: string,
): z.output<typeof withdrawalPolicyFileSchema> {
  return readJsonFile(path, {
    setting: 'WITHDRAWAL_POLICY_FILE',
    maxBytes: MAX_POLICY_FILE_BYTES,
    schema: withdrawalPolicyFileSchema,
    error: WithdrawalPolicyConfigError,
  });
}

/**
 * The built-in withdrawal policies of a configuration: its flags/env and its policy file. A
 * policy given in both places is refused, so what applies is never a matter of precedence.
 */
export function withdrawalPolicyOptions(config: ValidatorConfig): WithdrawalPolicyOptions {
  const options: WithdrawalPolicyOptions = {
    maxWithdrawal: config.withdrawalMaxAmount,
    recipientDailyLimit: config.withdrawalRecipientDailyLimit,
    globalDailyCap: config.withdrawalDailyCap,
    allowRecipients: config.withdrawalAllowRecipients,
    denyRecipients: config.withdrawalDenyRecipients,
  };
  if (config.withdrawalPolicyFile === undefined) return options;
  const file = readWithdrawalPolicyFile(config.withdrawalPolicyFile);
  for (const [fileKey, [optionKey, configKey, env]] of Object.entries(FILE_TO_CONFIG)) {
    const value = file[fileKey as keyof typeof file];
    if (value === undefined) continue;
    if (config[configKey] !== undefined) {
      throw new WithdrawalPolicyConfigError(
        `${fileKey} is set both in WITHDRAWAL_POLICY_FILE and by ${env}`,
        { details: 'set each policy in one place' },
      );
    }
    (options as Record<string, unknown>)[optionKey] = value;
  }
  return options;
}
