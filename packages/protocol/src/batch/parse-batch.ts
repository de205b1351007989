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

  const computed = computeContentHash(batch.messages);
  if (!equalBytes(computed, batch.contentHash)) {
    throw new ContentHashMismatchError(bytesToHex(batch.contentHash), bytesToHex(computed));
  }

  const parsedMessages: CoseSign1[] = batch.messages.map((raw, index) => {
    let message: CoseSign1;
    try {
      message = decodeCoseSign1(raw);
    } catch (cause) {
      throw new InvalidBatchMessageError(index, cause);
    }
    if (!equalBytes(message.pubkey, batch.pubkey)) {
      throw new BatchSignerMismatchError(
        index,
        bytesToHex(batch.pubkey),
        bytesToHex(message.pubkey),
      );
    }
    return message;
  });

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
  return { ...batch, parsedMessages };
}
