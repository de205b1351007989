import { type ChangesetStateDelta, changesetStateDelta } from '@synddb/applier';
import type { StorageFetcher } from '@synddb/fetchers';
import {
  type BatchInfo,
  type CborBatch,
  type ChangesetBatchRequest,
  decodeBatch,
  decodePayload,
  keccak256,
  MessageType,
  type WithdrawalRequest,
  zstdDecompress,
} from '@synddb/protocol';
import {
  type Secp256k1Backend,
  type VerifiedBatch,
  type VerifierPool,
  verifyBatch,
} from '@synddb/verifier';
import { BatchListingMismatchError, BatchUnavailableError, requireTrustedKey } from './errors';
import { downloadCapOf, prepareSnapshotBatch, type SnapshotBatchLimits } from './snapshot-batch';
import type { SpooledPayload } from './snapshot-spool';

/**
 * A verified message, its payload decoded (snapshots stay compressed until applied).
 * `messageHash` is the protocol's `message_hash`: keccak256 of the signed (zstd-compressed)
 * payload, as in the sequencer's receipts and `/storage/messages/{seq}`.
 */
export type PreparedMessage =
  | {
      type: typeof MessageType.Changeset;
      sequence: bigint;
      timestamp: bigint;
      messageHash: Uint8Array;
      request: ChangesetBatchRequest;
      /**
       * With `stateDeltas`: each changeset's state-root delta, computed while preparing (null for
       * an empty changeset or one whose delta could not be computed: the applier computes it).
       */
      deltas?: (ChangesetStateDelta | null)[];
    }
  | {
      type: typeof MessageType.Withdrawal;
      sequence: bigint;
      timestamp: bigint;
      messageHash: Uint8Array;
      request: WithdrawalRequest;
    }
  | {
      type: typeof MessageType.Snapshot;
      sequence: bigint;
      timestamp: bigint;
      messageHash: Uint8Array;
      /** In memory, or spooled to disk when its batch was too large to download whole. */
      payload: Uint8Array | SpooledPayload;
    }
  /** Validly signed, but its payload does not decode: applying it must halt at this sequence. */
  | { type: 'invalid'; sequence: bigint; timestamp: bigint; error: unknown };

export interface PreparedBatch {
  info: BatchInfo;
  messages: PreparedMessage[];
  bytes: number;
}

export interface PrepareContext {
  fetcher: StorageFetcher;
  trustedKeys: readonly Uint8Array[];
  maxDecompressedBatchBytes: number;
  /** Compute each changeset's state-root delta while preparing (engines that keep a state root). */
  stateDeltas?: boolean | undefined;
  backend?: Secp256k1Backend | undefined;
  pool?: VerifierPool | undefined;
  /**
   * Stream a batch over the fetcher's download cap when it carries a snapshot, within these
   * limits (`prepareSnapshotBatch`). Without them such a batch fails with `BatchTooLargeError`.
   */
  snapshotBatches?: SnapshotBatchLimits | undefined;
  signal?: AbortSignal | undefined;
  onFetched?: (info: { startSequence: bigint; bytes: number; seconds: number }) => void;
  onVerified?: (info: { startSequence: bigint; messages: number; seconds: number }) => void;
}

/** The CPU part of preparing a batch: what `prepareBlob` needs besides the bytes. */
export interface PrepareBlobOptions {
  trustedKeys: readonly Uint8Array[];
  maxDecompressedBatchBytes: number;
  stateDeltas?: boolean | undefined;
  backend?: Secp256k1Backend | undefined;
}

/** Downloads one listed batch; `BatchUnavailableError` when storage no longer serves it. */
export async function fetchBatchBlob(info: BatchInfo, ctx: PrepareContext): Promise<Uint8Array> {
  const fetchStarted = performance.now();
  const blob = await ctx.fetcher.getBatch(info, ctx.signal ? { signal: ctx.signal } : {});
  if (blob === null) throw new BatchUnavailableError(info.path, info.startSequence);
  ctx.onFetched?.({
    startSequence: info.startSequence,
    bytes: blob.byteLength,
    seconds: (performance.now() - fetchStarted) / 1000,
  });
  return blob;
}

/**
 * A downloaded batch: its blob, or, for a batch over the fetcher's download cap that carries a
 * snapshot, the batch already streamed and prepared (`prepareSnapshotBatch`).
 */
export type DownloadedBatch =
  | { kind: 'blob'; blob: Uint8Array }
  | { kind: 'prepared'; batch: PreparedBatch };

/** Downloads one listed batch whole, or streams it when it is too large for that. */
export async function downloadBatch(
  info: BatchInfo,
  ctx: PrepareContext,
): Promise<DownloadedBatch> {
  let blob: Uint8Array;
  try {
    blob = await fetchBatchBlob(info, ctx);
  } catch (error) {
    const cap = downloadCapOf(error);
    if (cap === undefined || ctx.snapshotBatches === undefined || ctx.signal?.aborted) throw error;
    const snapshotBatches = ctx.snapshotBatches;
    return {
      kind: 'prepared',
      batch: await prepareSnapshotBatch(info, cap, { ...ctx, snapshotBatches }),
    };
  }
  return { kind: 'blob', blob };
}

/**
 * Downloads one batch and runs every check before anything is applied: bounded zstd, strict CBOR,
 * listing range == content range, trusted signer, content hash, batch signature, every message
 * signature, contiguous sequences; then decodes the changeset and withdrawal payloads.
 */
export async function prepareBatch(info: BatchInfo, ctx: PrepareContext): Promise<PreparedBatch> {
  const downloaded = await downloadBatch(info, ctx);
  if (downloaded.kind === 'prepared') return downloaded.batch;
  const { blob } = downloaded;
  const verifyStarted = performance.now();
  const messages = ctx.pool
    ? await prepareBlobWithPool(info, blob, ctx, ctx.pool)
    : prepareBlob(info, blob, ctx);
  ctx.onVerified?.({
    startSequence: info.startSequence,
    messages: messages.length,
    seconds: (performance.now() - verifyStarted) / 1000,
  });
  return { info, messages, bytes: blob.byteLength };
}

/** Everything after the download, synchronously (also what a prepare worker runs). */
export function prepareBlob(
  info: BatchInfo,
  blob: Uint8Array,
  options: PrepareBlobOptions,
): PreparedMessage[] {
  return decodePayloads(
    verifyBlob(info, blob, options),
    options.maxDecompressedBatchBytes,
    options.stateDeltas === true,
  );
}

/** A verified message whose payload is not decoded yet (what `decodePayloads` reads of one). */
export interface VerifiedPayload {
  messageType: VerifiedBatch['messages'][number]['messageType'];
  sequence: bigint;
  timestamp: bigint;
  payload: Uint8Array;
}

/** `prepareBlob` up to the payloads: every check, nothing decoded past the signatures. */
export function verifyBlob(
  info: BatchInfo,
  blob: Uint8Array,
  options: PrepareBlobOptions,
): VerifiedPayload[] {
  const { batch, key } = decodeListed(info, blob, options);
  return verifyBatch(batch, {
    expectedPubkey: key,
    ...(options.backend ? { backend: options.backend } : {}),
  }).messages;
}

async function prepareBlobWithPool(
  info: BatchInfo,
  blob: Uint8Array,
  options: PrepareBlobOptions,
  pool: VerifierPool,
): Promise<PreparedMessage[]> {
  const { batch, key } = decodeListed(info, blob, options);
  const verified = await verifyBatch(batch, {
    expectedPubkey: key,
    pool,
    ...(options.backend ? { backend: options.backend } : {}),
  });
  return decodePayloads(
    verified.messages,
    options.maxDecompressedBatchBytes,
    options.stateDeltas === true,
  );
}

function decodeListed(
  info: BatchInfo,
  blob: Uint8Array,
  options: PrepareBlobOptions,
): { batch: CborBatch; key: Uint8Array } {
  // Strict CBOR only; verifyBatch parses the messages and recomputes the content hash (once).
  const batch = decodeBatch(
    zstdDecompress(blob, { maxOutputBytes: options.maxDecompressedBatchBytes }),
  );
  if (batch.startSequence !== info.startSequence || batch.endSequence !== info.endSequence) {
    throw new BatchListingMismatchError(
      { start: info.startSequence, end: info.endSequence },
      { start: batch.startSequence, end: batch.endSequence },
    );
  }
  return { batch, key: requireTrustedKey(options.trustedKeys, batch.pubkey) };
}

/**
 * The payloads of verified messages, decoded (zstd, CBOR; snapshots stay compressed), with each
 * message's `messageHash`. A payload that does not decode becomes an `invalid` message.
 */
export function decodePayloads(
  verified: readonly VerifiedPayload[],
  maxDecompressedBytes: number,
  stateDeltas: boolean,
): PreparedMessage[] {
  return verified.map((m) => decodeMessage(m, maxDecompressedBytes, stateDeltas));
}

/**
 * Whether a prepare worker leaves this verified message's payload for the applying thread to
 * decode (`callerDecodeMaxBytes`): small changeset and withdrawal payloads, never a snapshot.
 * The applying thread, preparing a batch itself, computes state deltas only for the others, as
 * a worker does.
 */
export function leftToCaller(m: VerifiedPayload, callerDecodeMaxBytes: number): boolean {
  return m.payload.length <= callerDecodeMaxBytes && m.messageType !== MessageType.Snapshot;
}

/** `decodePayloads` of one message. */
export function decodeMessage(
  m: VerifiedPayload,
  maxDecompressedBytes: number,
  stateDeltas: boolean,
): PreparedMessage {
  const messageHash = keccak256(m.payload);
  if (m.messageType === MessageType.Snapshot) {
    return {
      type: m.messageType,
      sequence: m.sequence,
      timestamp: m.timestamp,
      messageHash,
      payload: m.payload,
    };
  }
  let decoded: ReturnType<typeof decodePayload>;
  try {
    decoded = decodePayload(m.messageType, m.payload, { maxDecompressedBytes });
  } catch (error) {
    return { type: 'invalid', sequence: m.sequence, timestamp: m.timestamp, error };
  }
  if (decoded.type === MessageType.Changeset) {
    return {
      type: decoded.type,
      sequence: m.sequence,
      timestamp: m.timestamp,
      messageHash,
      request: decoded.value,
      ...(stateDeltas ? { deltas: decoded.value.changesets.map((c) => deltaOf(c.data)) } : {}),
    };
  }
  if (decoded.type === MessageType.Withdrawal) {
    return {
      type: decoded.type,
      sequence: m.sequence,
      timestamp: m.timestamp,
      messageHash,
      request: decoded.value,
    };
  }
  // decodePayload returns the type it was asked for; a snapshot was handled above.
  throw new TypeError(`unexpected payload type ${decoded.type}`);
}

/**
 * A changeset's state delta, or null (empty, or malformed: applying it reports the error). Its
 * UPDATEs stay in the changeset (positions): the applying thread decodes them where it resolves
 * them, and they cross between threads as two numbers each (prepare-wire.ts).
 */
function deltaOf(changeset: Uint8Array): ChangesetStateDelta | null {
  if (changeset.byteLength === 0) return null;
  try {
    return changesetStateDelta(changeset, { decodeUpdates: false });
  } catch {
    return null;
  }
}
