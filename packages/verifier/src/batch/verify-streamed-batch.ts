import type { StreamedBatch, StreamedBatchMessage } from '@synddb/protocol';
import { batchSigningDigest } from '@synddb/protocol';
import { defaultBackend } from '../backend/default-backend';
import type { Secp256k1Backend } from '../backend/types';
import { BatchSignatureError } from '../errors';
import { assertTrustedSigner } from '../keys/assert-signer';
import { checkMessageSignature, verifiedFromCose } from '../message/check-cose-signature';
import type { VerifiedMessage } from '../message/verified-message';
import type { VerifiedBatch } from './verified-batch';

export interface VerifyStreamedBatchOptions {
  /** The trusted 64-byte X||Y sequencer key. */
  expectedPubkey: Uint8Array;
  /** Defaults to `defaultBackend()`. */
  backend?: Secp256k1Backend;
}

/** A verified message of a streamed batch: a spooled payload is not in `payload` (empty). */
export type VerifiedStreamedMessage<T> = VerifiedMessage & {
  spooled?: StreamedBatchMessage<T>['spooled'];
};

export interface VerifiedStreamedBatch<T> extends Omit<VerifiedBatch, 'messages'> {
  messages: VerifiedStreamedMessage<T>[];
}

/**
 * `verifyBatch` for a batch read by `readBatchStream` (`@synddb/protocol`), whose snapshot
 * payloads went to a spool: the same checks in the same order, the batch key first, then the
 * batch signature, then every message signature, a spooled message's over the signing digest
 * `readBatchStream` computed while the payload streamed past (its structure, content hash, signer
 * binding and range were checked there). Only a batch from `readBatchStream` may be given: the
 * digests it carries are trusted to be over the bytes that were spooled.
 */
export function verifyStreamedBatch<T>(
  batch: StreamedBatch<T>,
  options: VerifyStreamedBatchOptions,
): VerifiedStreamedBatch<T> {
  assertTrustedSigner('batch', options.expectedPubkey, batch.pubkey);
  const verifier = (options.backend ?? defaultBackend()).bindPublicKey(batch.pubkey);
  const digest = batchSigningDigest(batch.startSequence, batch.endSequence, batch.contentHash);
  if (!verifier.verify(batch.signature, digest)) {
    throw new BatchSignatureError(batch.startSequence, batch.endSequence);
  }
  const messages = batch.messages.map(({ cose, spooled }): VerifiedStreamedMessage<T> => {
    checkMessageSignature(cose, verifier, spooled?.signingDigest);
    const message: VerifiedStreamedMessage<T> = verifiedFromCose(cose);
    if (spooled !== undefined) message.spooled = spooled;
    return message;
  });
  return {
    startSequence: batch.startSequence,
    endSequence: batch.endSequence,
    createdAt: batch.createdAt,
    contentHash: batch.contentHash,
    signer: batch.pubkey,
    signature: batch.signature,
    messages,
  };
}
