import type { StorageFetcher } from '@synddb/fetchers';
import { decodePayload, keccak256, MessageType } from '@synddb/protocol';
import { verifySignedMessage } from '@synddb/verifier';
import { requireTrustedKey, UnexpectedSequenceError } from './errors';
import type { PreparedMessage } from './prepare-batch';

export interface SingleMessageContext {
  fetcher: StorageFetcher;
  trustedKeys: readonly Uint8Array[];
  maxDecompressedBatchBytes: number;
  signal?: AbortSignal;
}

export type SingleMessageOutcome =
  | { kind: 'message'; message: PreparedMessage }
  | { kind: 'absent'; latest: bigint | null; nextAvailable: bigint | null };

/** How far past a missing sequence the single-message mode probes for the end of a gap (as the reference). */
const GAP_PROBE = 10n;

/**
 * Single-message mode (`BATCH_SYNC_ENABLED=false`): fetches `/storage/messages/{seq}`, binds the
 * outer fields to the signed protected header (including the type the reference leaves unbound),
 * checks the signer against the trusted keys and decodes the payload.
 */
export async function syncSingleMessage(
  sequence: bigint,
  ctx: SingleMessageContext,
): Promise<SingleMessageOutcome> {
  const options = ctx.signal ? { signal: ctx.signal } : {};
  const message = await ctx.fetcher.getMessage(sequence, options);
  if (message === null) {
    const latest = await ctx.fetcher.getLatestSequence(options);
    let nextAvailable: bigint | null = null;
    if (latest !== null && latest > sequence) {
      for (let probe = sequence + 1n; probe <= sequence + GAP_PROBE && probe <= latest; probe++) {
        if ((await ctx.fetcher.getMessage(probe, options)) !== null) {
          nextAvailable = probe;
          break;
        }
      }
    }
    return { kind: 'absent', latest, nextAvailable };
  }
  if (message.sequence !== sequence) throw new UnexpectedSequenceError(sequence, message.sequence);
  const key = requireTrustedKey(ctx.trustedKeys, message.signer);
  const verified = await verifySignedMessage(message, { expectedPubkey: key });
  const base = {
    sequence: verified.sequence,
    timestamp: verified.timestamp,
    messageHash: keccak256(verified.payload),
  };
  if (verified.messageType === MessageType.Snapshot) {
    return {
      kind: 'message',
      message: { type: MessageType.Snapshot, ...base, payload: verified.payload },
    };
  }
  try {
    const decoded = decodePayload(verified.messageType, verified.payload, {
      maxDecompressedBytes: ctx.maxDecompressedBatchBytes,
    });
    if (decoded.type === MessageType.Changeset) {
      return { kind: 'message', message: { type: decoded.type, ...base, request: decoded.value } };
    }
    if (decoded.type === MessageType.Withdrawal) {
      return { kind: 'message', message: { type: decoded.type, ...base, request: decoded.value } };
    }
    throw new TypeError('payload type does not match the signed message type');
  } catch (error) {
    const { sequence: seq, timestamp } = base;
    return { kind: 'message', message: { type: 'invalid', sequence: seq, timestamp, error } };
  }
}
