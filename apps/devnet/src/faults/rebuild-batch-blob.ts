import { decodeBatchBlob, encodeBatchBlob, type MessageType } from '@synddb/protocol';
import type { SequencerSigner } from '@synddb/verifier';

/** A message of a batch, unsigned: what `rebuildBatchBlob` lets a test rearrange. */
export interface UnsignedMessage {
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
  /** The compressed payload bytes. */
  payload: Uint8Array;
}

export interface RebuildBatchBlobParameters {
  /** Signs every message and the batch (e.g. a key other than the sequencer's). */
  signer: SequencerSigner;
  /** Rearranges the messages (reorder, drop, duplicate, edit) before re-signing. Default: keep. */
  transform?: (messages: UnsignedMessage[]) => UnsignedMessage[];
  /** Batch range to sign; default: the first and last message of the result. */
  startSequence?: bigint | number;
  endSequence?: bigint | number;
  /** `t`; default: the original batch's. */
  createdAt?: bigint | number;
}

/**
 * Builds a well-formed, validly signed batch blob from an existing one, for hostile-storage tests:
 * re-signed by another key, messages reordered or missing, ranges that lie. Pair it with
 * `storage.replace(start, blob)`.
 */
export function rebuildBatchBlob(
  blob: Uint8Array,
  parameters: RebuildBatchBlobParameters,
): Uint8Array {
  const batch = decodeBatchBlob(blob);
  const messages: UnsignedMessage[] = batch.parsedMessages.map((m) => ({
    sequence: m.header.sequence,
    timestamp: m.header.timestamp,
    messageType: m.header.messageType,
    payload: m.payload,
  }));
  const rearranged = parameters.transform ? parameters.transform(messages) : messages;
  const { signer } = parameters;
  const signed = rearranged.map((m) => signer.signMessage(m));
  const range =
    parameters.startSequence !== undefined && parameters.endSequence !== undefined
      ? { startSequence: parameters.startSequence, endSequence: parameters.endSequence }
      : {
          startSequence: parameters.startSequence ?? rearranged[0]?.sequence ?? batch.startSequence,
          endSequence: parameters.endSequence ?? rearranged.at(-1)?.sequence ?? batch.endSequence,
        };
  return encodeBatchBlob(
    signer.signBatch(signed, { createdAt: parameters.createdAt ?? batch.createdAt, ...range }),
  );
}
