// Worker thread of the verifier pool: the curve arithmetic of many signatures, off the calling
// thread. The calling thread has already applied the length / range / low-S rule that every
// backend shares (see create-verifier-pool.ts); here the backends check it again, which costs
// little and keeps one implementation of the arithmetic (src/backend).
import { parentPort } from 'node:worker_threads';
import { createNativeBackend } from '../backend/native-backend';
import { createNobleBackend } from '../backend/noble-backend';
import { PUBKEY_BYTES } from '../backend/signature-rules';
import type { PublicKeyVerifier, Secp256k1Backend } from '../backend/types';
import { DIGEST_OFFSET, PUBKEY_OFFSET, RECORD_BYTES } from './verify-record';

/** `buffer` (transferred) holds `count` records (verify-record.ts). */
export interface VerifyRequest {
  id: number;
  backend: Secp256k1Backend['name'];
  count: number;
  buffer: ArrayBuffer;
}

/** `results` (transferred): one byte per record, 1 = valid, 0 = invalid; `error` when the request itself is unusable. */
export type VerifyReply = { id: number; results: Uint8Array } | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('verify-worker must run in a worker thread');

const backends = new Map<string, Secp256k1Backend>();
function backendNamed(name: unknown): Secp256k1Backend {
  let backend = backends.get(String(name));
  if (backend === undefined) {
    if (name === 'native') backend = createNativeBackend();
    else if (name === 'noble') backend = createNobleBackend();
    else throw new Error(`unknown backend ${String(name)}`);
    backends.set(String(name), backend);
  }
  return backend;
}

function verifyRecords(
  backend: Secp256k1Backend,
  bytes: Uint8Array,
  count: number,
): Uint8Array<ArrayBuffer> {
  const results = new Uint8Array(count);
  // Consecutive records usually share the batch key: bind it (checked once, and for noble a
  // precomputed table) only when it changes. A key that is no point fails its records.
  let keyOffset = -1;
  let key: PublicKeyVerifier | null = null;
  for (let i = 0; i < count; i++) {
    const base = i * RECORD_BYTES;
    const keyStart = base + PUBKEY_OFFSET;
    if (keyOffset < 0 || !sameBytes(bytes, keyOffset, keyStart, PUBKEY_BYTES)) {
      keyOffset = keyStart;
      try {
        key = backend.bindPublicKey(bytes.subarray(keyStart, keyStart + PUBKEY_BYTES));
      } catch {
        key = null;
      }
    }
    const signature = bytes.subarray(base, base + DIGEST_OFFSET);
    const digest = bytes.subarray(base + DIGEST_OFFSET, keyStart);
    results[i] = key?.verify(signature, digest) === true ? 1 : 0;
  }
  return results;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

port.on('message', (request: VerifyRequest) => {
  const { id, count, buffer } = request;
  let reply: VerifyReply;
  let transfer: ArrayBuffer[] = [];
  try {
    if (
      !(buffer instanceof ArrayBuffer) ||
      !Number.isSafeInteger(count) ||
      buffer.byteLength !== count * RECORD_BYTES
    ) {
      throw new Error('malformed verification request');
    }
    const results = verifyRecords(backendNamed(request.backend), new Uint8Array(buffer), count);
    reply = { id, results };
    transfer = [results.buffer];
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply, transfer);
});
