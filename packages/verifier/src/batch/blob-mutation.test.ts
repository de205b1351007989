import {
  decodeBatchBlob,
  encodeBatchBlob,
  equalBytes,
  MessageType,
  SyndDBError,
} from '@synddb/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../test/backends';
import { flipBit, wire } from '../../test/wire-format-fixture';
import { createSequencerSigner } from '../signer/create-sequencer-signer';
import { verifyBatch } from './verify-batch';

const signer = createSequencerSigner(wire.keys.anvil0.privkey);

/** A signed batch blob of 1-4 messages with small random payloads, starting at `first`. */
const signedBlob = fc
  .record({
    first: fc.bigInt({ min: 0n, max: 2n ** 40n }),
    payloads: fc.array(fc.uint8Array({ minLength: 0, maxLength: 24 }), {
      minLength: 1,
      maxLength: 4,
    }),
    createdAt: fc.integer({ min: 0, max: 2 ** 32 }),
  })
  .map(({ first, payloads, createdAt }) => {
    const messages = payloads.map((payload, i) =>
      signer.signMessage({
        sequence: first + BigInt(i),
        timestamp: 1_700_000_000n + BigInt(i),
        messageType: MessageType.Changeset,
        payload,
      }),
    );
    const batch = signer.signBatch(messages, { createdAt });
    return { batch, blob: encodeBatchBlob(batch) };
  });

describe.each(BACKENDS)('single-bit mutations of a signed batch blob (%s)', (_name, backend) => {
  it('never verify to different content: they fail to decode or to verify, or leave the signed content unchanged', () => {
    let rejected = 0;
    let benign = 0;
    fc.assert(
      fc.property(
        signedBlob,
        fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
        ({ batch, blob }, picks) => {
          for (const pick of picks) {
            const mutated = flipBit(blob, pick % (blob.length * 8));
            let verified: ReturnType<typeof verifyBatch>;
            try {
              verified = verifyBatch(decodeBatchBlob(mutated), {
                expectedPubkey: signer.pubkey,
                backend,
              });
            } catch (error) {
              // Every failure is a typed error, never a crash of the decoder or the verifier.
              expect(error).toBeInstanceOf(SyndDBError);
              rejected++;
              continue;
            }
            // A zstd flip that decompresses to the same bytes (e.g. in the window descriptor), or a
            // flip in the unsigned `t`, may verify: then the signed content must be the original.
            benign++;
            expect(verified.startSequence).toBe(batch.startSequence);
            expect(verified.endSequence).toBe(batch.endSequence);
            expect(equalBytes(verified.contentHash, batch.contentHash)).toBe(true);
            expect(verified.messages.map((m) => m.raw)).toEqual(batch.messages);
          }
        },
      ),
      { numRuns: 25 },
    );
    expect(rejected + benign).toBe(500);
    // Nearly every flip must be caught; benign flips are the rare exception.
    expect(rejected).toBeGreaterThan(400);
  });
});
