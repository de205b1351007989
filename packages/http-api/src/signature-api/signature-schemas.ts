import { z } from 'zod';

/**
 * JSON bodies of the signature API. The server builds them from the store's records and keeps only
 * these fields; the schemas document them (`/openapi.json`) and let tests check every answer.
 */
const jsonU64 = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .describe('u64: a JSON number when at most 2^53-1, else a decimal string.');
const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/);
const address = z.string().regex(/^0x[0-9a-f]{40}$/);
const signatureHex = z.string().regex(/^0x[0-9a-f]{130}$/);

export const messageSignatureSchema = z
  .object({
    message_id: hex32,
    signature: signatureHex.describe('r ‖ s ‖ v, v 27 or 28, low S'),
    signer: address,
    signed_at: z.number().int().describe('Unix seconds'),
  })
  .meta({ id: 'MessageSignature' });

export const withdrawalStatusSchema = z
  .enum(['accepted', 'refused', 'unsignable'])
  .describe(
    'accepted: queued or signed; refused: a withdrawal policy refused it; unsignable: the Bridge could never accept it (no message id, bad recipient or amount). Refused and unsignable withdrawals are never signed.',
  );

export const withdrawalSignatureSchema = z
  .object({
    request_id: z.string(),
    message_id: hex32.nullable().describe("The sequencer's message id; null when unsignable"),
    recipient: z.string().describe('Lowercase address (as received when unsignable)'),
    amount: z.string().describe('Decimal uint256'),
    sequence: jsonU64,
    status: withdrawalStatusSchema,
    signature: signatureHex.nullable().describe('null until signed, and for refused/unsignable'),
    signer: address.nullable(),
    signed_at: z.number().int().nullable(),
    policy: z
      .string()
      .nullable()
      .describe('The refusing policy, or message_id / recipient / amount when unsignable'),
    reason: z.string().nullable(),
    completed: z
      .object({ block_number: jsonU64, transaction_hash: hex32 })
      .nullable()
      .describe("The Bridge's MessageHandled event, once confirmed (needs BRIDGE_RPC_URL)"),
  })
  .meta({ id: 'WithdrawalSignature' });

export const pendingWithdrawalsSchema = z
  .object({
    count: z.number().int(),
    withdrawals: z.array(
      z.object({
        message_id: hex32,
        request_id: z.string(),
        recipient: address,
        amount: z.string(),
        sequence: jsonU64,
        signed_at: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'PendingWithdrawals' });

export const refusedWithdrawalsSchema = z
  .object({ count: z.number().int(), withdrawals: z.array(withdrawalSignatureSchema) })
  .meta({ id: 'RefusedWithdrawals' });

export const stateAttestationSchema = z
  .object({
    sequence: z.string().regex(/^\d+$/).describe('u64, decimal string'),
    state_root: hex32.describe(
      "The replica's state root after this sequence: keccak256 of the LtHash16 of its content (see @synddb/applier)",
    ),
    message_hash: hex32.describe(
      "The sequence's message_hash: keccak256 of the message's signed (compressed) payload",
    ),
    signature: signatureHex.describe(
      'r ‖ s ‖ v over the EIP-712 digest of StateAttestation(uint64 sequence,bytes32 stateRoot,bytes32 messageHash), domain {name "SyndDBStateAttestation", version "1", chainId, verifyingContract: the Bridge}',
    ),
    signer: address,
    signed_at: z.number().int().describe('Unix seconds'),
  })
  .meta({ id: 'StateAttestation' });

export const signatureErrorSchema = z
  .object({ error: z.string(), code: z.string() })
  .meta({ id: 'SignatureApiError' });

export type StateAttestationJson = z.output<typeof stateAttestationSchema>;
export type WithdrawalSignatureJson = z.output<typeof withdrawalSignatureSchema>;
export type PendingWithdrawalJson = z.output<
  typeof pendingWithdrawalsSchema
>['withdrawals'][number];
