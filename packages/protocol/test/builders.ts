import { computeContentHash } from '../src/batch/content-hash';
import { encodeCoseSign1 } from '../src/cose/encode-cose-sign1';
import { encodeProtectedHeader } from '../src/cose/protected-header';
import type { CborBatch, MessageType } from '../src/types';
import { ANVIL0_PUBKEY } from './vectors';

/** An (unsigned: signature bytes are filler) COSE message with the given header values. */
export function message(
  sequence: bigint,
  options: {
    timestamp?: bigint;
    type?: MessageType;
    payload?: Uint8Array;
    pubkey?: Uint8Array;
  } = {},
): Uint8Array {
  return encodeCoseSign1({
    protectedBytes: encodeProtectedHeader({
      alg: -47,
      sequence,
      timestamp: options.timestamp ?? 1700000000n + sequence,
      messageType: options.type ?? 0,
    }),
    pubkey: options.pubkey ?? ANVIL0_PUBKEY,
    payload: options.payload ?? new TextEncoder().encode(`payload ${sequence}`),
    signature: new Uint8Array(64).fill(1),
  });
}

/** A batch over `messages` with a correct content hash and the given (or derived) range. */
export function batchOf(messages: Uint8Array[], range?: { s: bigint; e: bigint }): CborBatch {
  return {
    version: 1,
    startSequence: range?.s ?? 0n,
    endSequence: range?.e ?? 0n,
    createdAt: 1700000000n,
    contentHash: computeContentHash(messages),
    messages,
    signature: new Uint8Array(64).fill(2),
    pubkey: ANVIL0_PUBKEY,
  };
}
