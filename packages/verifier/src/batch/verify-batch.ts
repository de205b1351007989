import type { CborBatch, CoseSign1, SignedBatch } from '@synddb/protocol';
import {
  batchSigningDigest,
  isNormalizedProtectedHeader,
  messageSigningDigest,
  parseBatch,
} from '@synddb/protocol';
import { defaultBackend } from '../backend/default-backend';
import type { PublicKeyVerifier, Secp256k1Backend } from '../backend/types';
import { BatchSignatureError, MessageSignatureError, NonNormalizedHeaderError } from '../errors';
import { assertTrustedSigner } from '../keys/assert-signer';
import { checkCoseSignature, verifiedFromCose } from '../message/check-cose-signature';
import type { VerifierPool } from '../pool/create-verifier-pool';
import type { VerifiedBatch } from './verified-batch';

export interface VerifyBatchOptions {
  /** The trusted 64-byte X||Y sequencer key. */
  expectedPubkey: Uint8Array;
  /** Defaults to `defaultBackend()`. */
  backend?: Secp256k1Backend;
  /** See `VerifyMessageOptions.requireNormalizedHeader`. */
  requireNormalizedHeader?: boolean;
  /** Verify message signatures on worker threads; the call then returns a Promise. */
  pool?: VerifierPool | undefined;
}

/**
 * Verifies a decoded batch (docs/protocol.md#batch-checks, stricter than the Rust reader), in this
 * order:
 * 1. batch `pubkey` == the trusted key, even for an empty batch (`SignerMismatchError`);
 * 2. re-parse from the raw fields with protocol's `parseBatch` — content hash recomputed, every
 *    message decoded strictly and signed (claimed) by the batch key, sequences exactly s..e with
 *    no gap (protocol errors: CONTENT_HASH_MISMATCH, BATCH_EMPTY, SEQUENCE_NOT_CONTIGUOUS, ...).
 *    `parsedMessages` of a `SignedBatch` argument are ignored, never trusted;
 * 3. batch signature over keccak256(keccak256(be64(s) || be64(e) || h)) (`BatchSignatureError`);
 * 4. every message signature (`MessageSignatureError` with the first failing sequence).
 */
export function verifyBatch(
  batch: CborBatch | SignedBatch,
  options: VerifyBatchOptions & { pool: VerifierPool },
): Promise<VerifiedBatch>;
export function verifyBatch(
  batch: CborBatch | SignedBatch,
  options: VerifyBatchOptions & { pool?: undefined },
): VerifiedBatch;
export function verifyBatch(
  batch: CborBatch | SignedBatch,
  options: VerifyBatchOptions,
): VerifiedBatch | Promise<VerifiedBatch>;
export function verifyBatch(
  batch: CborBatch | SignedBatch,
  options: VerifyBatchOptions,
): VerifiedBatch | Promise<VerifiedBatch> {
  const requireNormalized = options.requireNormalizedHeader ?? false;
  const { pool } = options;
  if (pool === undefined) {
    const { parsed, verifier } = verifyBatchEnvelope(batch, options);
    const messages = parsed.parsedMessages.map((cose) =>
      checkCoseSignature(cose, verifier, requireNormalized),
    );
    return toVerifiedBatch(parsed, messages);
  }
  // Async from the first check on, so every failure arrives as a rejection, never a sync throw.
  return (async () => {
    const { parsed, verifier } = verifyBatchEnvelope(batch, options);
    return verifyMessagesInPool(parsed, verifier, pool, requireNormalized);
  })();
}

/** Steps 1-3: everything except the per-message signatures. */
function verifyBatchEnvelope(
  batch: CborBatch,
  options: VerifyBatchOptions,
): { parsed: SignedBatch; verifier: PublicKeyVerifier } {
  assertTrustedSigner('batch', options.expectedPubkey, batch.pubkey);
  // Rebuild from the raw fields only, so hand-built `parsedMessages` can never stand in for bytes.
  const parsed = parseBatch({
    version: batch.version,
    startSequence: batch.startSequence,
    endSequence: batch.endSequence,
    createdAt: batch.createdAt,
    contentHash: batch.contentHash,
    messages: batch.messages,
    signature: batch.signature,
    pubkey: batch.pubkey,
  });
  const verifier = (options.backend ?? defaultBackend()).bindPublicKey(parsed.pubkey);
  const digest = batchSigningDigest(parsed.startSequence, parsed.endSequence, parsed.contentHash);
  if (!verifier.verify(parsed.signature, digest)) {
    throw new BatchSignatureError(parsed.startSequence, parsed.endSequence);
  }
  return { parsed, verifier };
}

async function verifyMessagesInPool(
  parsed: SignedBatch,
  verifier: PublicKeyVerifier,
  pool: VerifierPool,
  requireNormalized: boolean,
): Promise<VerifiedBatch> {
  const items = parsed.parsedMessages.map((cose: CoseSign1) => {
    if (requireNormalized && !isNormalizedProtectedHeader(cose.protectedBytes)) {
      throw new NonNormalizedHeaderError(cose.header.sequence);
    }
    return {
      signature: cose.signature,
      digest: messageSigningDigest(cose.protectedBytes, cose.payload),
      pubkey: verifier.pubkey,
    };
  });
  const results = await pool.verifyMany(items);
  const failed = results.indexOf(false);
  if (failed >= 0) {
    const sequence = parsed.parsedMessages[failed]!.header.sequence;
    throw new MessageSignatureError(
      sequence,
      `ECDSA (pool, ${pool.backend}) rejected r||s over keccak256(Sig_structure)`,
    );
  }
  return toVerifiedBatch(parsed, parsed.parsedMessages.map(verifiedFromCose));
}

function toVerifiedBatch(parsed: SignedBatch, messages: VerifiedBatch['messages']): VerifiedBatch {
  return {
    startSequence: parsed.startSequence,
    endSequence: parsed.endSequence,
    createdAt: parsed.createdAt,
    contentHash: parsed.contentHash,
    signer: parsed.pubkey,
    signature: parsed.signature,
    messages,
  };
}
