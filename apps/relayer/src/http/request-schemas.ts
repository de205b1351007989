import { z } from 'zod';

const hex = (what: string) =>
  z
    .string()
    .max(2 * 1024 * 1024)
    .transform((v, ctx) => {
      const body = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
      if (!/^[0-9a-fA-F]*$/.test(body) || body.length % 2 !== 0) {
        ctx.addIssue({ code: 'custom', message: `${what} must be hex (0x optional, even length)` });
        return z.NEVER;
      }
      return `0x${body.toLowerCase()}`;
    });

const bytesOf = (what: string, length: number) =>
  hex(what).refine((v) => v.length === 2 + 2 * length, `${what} must be ${length} bytes`);

const U128_MAX = (1n << 128n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

const u64 = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)])
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n > U64_MAX) {
      ctx.addIssue({ code: 'custom', message: 'must fit in u64' });
      return z.NEVER;
    }
    return n;
  });

/** `POST /submit-withdrawal` (snake_case, the reference's shape). */
export const submitWithdrawalBody = z.object({
  message_id: bytesOf('message_id', 32),
  target_address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'target_address must be 0x + 40 hex')
    .transform((v) => v.toLowerCase()),
  payload: hex('payload'),
  native_token_amount: z
    .string()
    .regex(/^\d{1,39}$/, 'native_token_amount must be a decimal string')
    .refine((v) => BigInt(v) <= U128_MAX, 'native_token_amount must fit in u128'),
  sequencer_signature: bytesOf('sequencer_signature', 65),
  sequence: u64,
  timestamp: u64,
});

/** `POST /register-key` (camelCase, the reference's shape). */
export const registerKeyBody = z.object({
  publicValues: hex('publicValues'),
  proofBytes: hex('proofBytes'),
  deadline: u64,
  signature: bytesOf('signature', 65),
  keyType: z.enum(['sequencer', 'validator']),
});
