import { equalBytes } from '../bytes/equal-bytes';
import { bytesToHex } from '../bytes/hex';
import { decodeCoseSign1 } from '../cose/decode-cose-sign1';
import type { CborBatch, CoseSign1, SignedBatch } from '../types';
import { computeContentHash } from './content-hash';
import {
  BatchRangeMismatchError,
  BatchSignerMismatchError,
  ContentHashMismatchError,
  EmptyBatchError,
  InvalidBatchMessageError,
  SequenceNotContiguousError,
} from './errors';

/**
 * Parses every message of a decoded batch and checks the batch's internal consistency — the
 * checks the Rust reader skips (docs/protocol.md#batch-checks,
 * docs/protocol.md#out-of-order-sequences) plus the content hash it does check: at least one
 * message; `h` == SHA-256 of the messages; each message a valid COSE_Sign1 signed (claimed) by
 * the batch key; `s` == first sequence, `e` == last, sequences strictly consecutive,
 * count == e - s + 1. Signatures are NOT verified here (that is @synddb/verifier's job).
 */
export function parseBatch(batch: CborBatch): SignedBatch {
  const { startSequence: s, endSequence: e } = batch;
  if (batch.messages.length === 0) throw new EmptyBatchError(s, e);
  checkContentHash(batch.contentHash, computeContentHash(batch.messages));
  const parsedMessages: CoseSign1[] = batch.messages.map((raw, index) => {
    const message = decodeBatchMessage(raw, index);
    checkMessageSigner(batch.pubkey, message, index);
    return message;
  });
  checkBatchMessages(batch, parsedMessages);
  return { ...batch, parsedMessages };
}

/** `h` must be the SHA-256 computed over the messages. */
export function checkContentHash(expected: Uint8Array, computed: Uint8Array): void {
  if (!equalBytes(computed, expected)) {
    throw new ContentHashMismatchError(bytesToHex(expected), bytesToHex(computed));
  }
}

/** Message `index` of a batch, decoded strictly (`InvalidBatchMessageError` otherwise). */
export function decodeBatchMessage(raw: Uint8Array, index: number): CoseSign1 {
  try {
    return decodeCoseSign1(raw);
  } catch (cause) {
    throw new InvalidBatchMessageError(index, cause);
  }
}

/**
 * The checks on a batch's decoded messages: at least one, each claimed by the batch key,
 * sequences exactly `s..e` with no gap.
 */
export function checkBatchMessages(
  batch: Pick<CborBatch, 'startSequence' | 'endSequence' | 'pubkey'>,
  parsedMessages: readonly CoseSign1[],
): void {
  const { startSequence: s, endSequence: e } = batch;
  if (parsedMessages.length === 0) throw new EmptyBatchError(s, e);
  for (const [index, message] of parsedMessages.entries()) {
    checkMessageSigner(batch.pubkey, message, index);
  }

  const first = parsedMessages[0]!.header.sequence;
  const last = parsedMessages[parsedMessages.length - 1]!.header.sequence;
  if (first !== s) {
    throw new BatchRangeMismatchError(
      'batch start does not match its first message',
      `s=${s} first=${first}`,
    );
  }
  for (let i = 1; i < parsedMessages.length; i++) {
    const expected = s + BigInt(i);
    const actual = parsedMessages[i]!.header.sequence;
    if (actual !== expected) throw new SequenceNotContiguousError(i, expected, actual);
  }
  if (last !== e) {
    throw new BatchRangeMismatchError(
      'batch end does not match its last message',
      `e=${e} last=${last}`,
    );
  }
  const count = BigInt(parsedMessages.length);
  if (e - s + 1n !== count) {
    // Unreachable after the checks above; kept so the invariant is stated where it is relied on.
    throw new BatchRangeMismatchError(
      'message count is not e - s + 1',
      `s=${s} e=${e} count=${count}`,
    );
  }
}

/** A message must be claimed by the batch key (`BatchSignerMismatchError`). */
export function checkMessageSigner(
  batchPubkey: Uint8Array,
  message: CoseSign1,
  index: number,
): void {
  if (!equalBytes(message.pubkey, batchPubkey)) {
    throw new BatchSignerMismatchError(index, bytesToHex(batchPubkey), bytesToHex(message.pubkey));
  }
}
