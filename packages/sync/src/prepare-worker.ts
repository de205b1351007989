// Worker thread of the prepare pool: decompresses, decodes and verifies batches off the applying
// thread. Plain messages in; the prepared messages go back packed (prepare-wire.ts).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { type BatchInfo, MessageType } from '@synddb/protocol';
import { defaultBackend } from '@synddb/verifier';
import { decodeMessage, leftToCaller, verifyBlob } from './prepare-batch';
import { type PackedMessages, packMessages, type WireMessage } from './prepare-wire';
import { type SerializedError, serializeError } from './remote-error';
import { TRANSFER_FROM_BYTES } from './transfer';

export interface PrepareRequest {
  id: number;
  info: BatchInfo;
  blob: Uint8Array;
  trustedKeys: Uint8Array[];
  maxDecompressedBatchBytes: number;
  stateDeltas?: boolean;
  /**
   * Changeset and withdrawal payloads of at most this many (compressed) bytes go back undecoded
   * (`payload` messages), for the pool to decode. Default 0: every payload decoded here.
   */
  callerDecodeMaxBytes?: number;
  /**
   * Set when the applying thread may prepare this batch itself (`PreparePool#prepareWaitingHere`):
   * whoever swaps 0 for its mark first prepares it (1: this worker); the other skips it.
   */
  claim?: Int32Array;
}

export type PrepareReply =
  | { id: number; ok: true; packed: PackedMessages; seconds: number }
  | { id: number; ok: false; error: SerializedError };

const port = parentPort;
if (port === null) throw new Error('prepare-worker must run in a worker thread');

// Preparing ahead is background work: on Linux setpriority(0) applies to this thread only, so
// the applying thread and the processes answering reads win the CPU when cores are short.
const niceness = Number((workerData as { niceness?: number } | null)?.niceness ?? 0);
if (niceness > 0) {
  try {
    setPriority(niceness);
  } catch {
    // not permitted or not supported: run at normal priority
  }
}

// Load the signature backend (the native addon) now rather than in the first batch.
defaultBackend();

// Modules are loaded: tell the pool this worker can take batches.
port.postMessage({ ready: true });

port.on('message', (request: PrepareRequest) => {
  // Taken by the applying thread already: nothing to do, nobody waits for a reply.
  if (request.claim !== undefined && Atomics.compareExchange(request.claim, 0, 0, 1) !== 0) return;
  const started = performance.now();
  let reply: PrepareReply;
  try {
    const stateDeltas = request.stateDeltas === true;
    // Payloads left to the applying thread get their state deltas there (the tracker computes a
    // missing one): with the native kernel a small changeset's delta costs it a few µs, less than
    // the worker, which verifies every signature, would add to the bottleneck by decoding them.
    const leaveUpTo = request.callerDecodeMaxBytes ?? 0;
    const { maxDecompressedBatchBytes } = request;
    const messages = verifyBlob(request.info, request.blob, {
      trustedKeys: request.trustedKeys,
      maxDecompressedBatchBytes,
    }).map((v): WireMessage => {
      if (leftToCaller(v, leaveUpTo)) {
        return { type: 'payload', verified: v };
      }
      const m = decodeMessage(v, maxDecompressedBatchBytes, stateDeltas);
      return m.type === 'invalid' ? { ...m, error: serializeError(m.error) } : m;
    });
    // The downloaded blob is this worker's own (moved or copied here): free a large one now
    // rather than at some later GC, before the applying thread starts on what it held.
    if (request.blob.byteLength >= TRANSFER_FROM_BYTES) release(request.blob.buffer);
    const packed = packMessages(messages);
    reply = { id: request.id, ok: true, packed, seconds: (performance.now() - started) / 1000 };
    port.postMessage(reply, [packed.buffer, ...snapshotTransfers(packed.others)]);
  } catch (error) {
    reply = { id: request.id, ok: false, error: serializeError(error) };
    port.postMessage(reply);
  }
});

/**
 * Snapshot payloads (whole databases) are moved to the applying thread, not copied: the buffer
 * of the decompressed batch they are a view into goes with the reply (this worker is done with
 * it; other messages' views into it travel along).
 */
function snapshotTransfers(others: readonly WireMessage[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const m of others) {
    // (Payloads spooled to disk never come from a worker: they are prepared where they download.)
    if (m.type !== MessageType.Snapshot || !(m.payload instanceof Uint8Array)) continue;
    if (m.payload.byteLength < TRANSFER_FROM_BYTES) continue;
    const buffer = m.payload.buffer;
    if (buffer instanceof ArrayBuffer && !out.includes(buffer)) out.push(buffer);
  }
  return out;
}

/** Frees a buffer's memory now (ES2024 `transfer(0)` detaches it); no-op where unsupported. */
function release(buffer: ArrayBufferLike): void {
  (buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
}
