// Worker thread of the prepare pool: decompresses, decodes and verifies batches off the applying
// thread. Plain messages in, plain messages out (see prepare-pool.ts).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchInfo } from '@synddb/protocol';
import { type PreparedMessage, prepareBlob } from './prepare-batch';
import { type SerializedError, serializeError } from './remote-error';

export interface PrepareRequest {
  id: number;
  info: BatchInfo;
  blob: Uint8Array;
  trustedKeys: Uint8Array[];
  maxDecompressedBatchBytes: number;
  stateDeltas?: boolean;
}

/** `invalid` messages carry their error serialized. */
export type WireMessage =
  | Exclude<PreparedMessage, { type: 'invalid' }>
  | { type: 'invalid'; sequence: bigint; timestamp: bigint; error: SerializedError };

export type PrepareReply =
  | { id: number; ok: true; messages: WireMessage[]; seconds: number }
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

// Modules are loaded: tell the pool this worker can take batches.
port.postMessage({ ready: true });

port.on('message', (request: PrepareRequest) => {
  const started = performance.now();
  let reply: PrepareReply;
  try {
    const messages = prepareBlob(request.info, request.blob, {
      trustedKeys: request.trustedKeys,
      maxDecompressedBatchBytes: request.maxDecompressedBatchBytes,
      stateDeltas: request.stateDeltas === true,
    }).map(
      (m): WireMessage => (m.type === 'invalid' ? { ...m, error: serializeError(m.error) } : m),
    );
    reply = { id: request.id, ok: true, messages, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    reply = { id: request.id, ok: false, error: serializeError(error) };
  }
  port.postMessage(reply);
});
