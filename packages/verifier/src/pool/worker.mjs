// Worker of the @synddb/verifier pool. Plain JavaScript on purpose: it runs unchanged from the
// package sources (vitest) and from dist, without a TypeScript loader.
//
// Request:  { id, backend: 'native' | 'noble', count, buffer }  where `buffer` (transferred) holds
//           `count` records of 160 bytes: signature r||s (64) | digest (32) | pubkey X||Y (64).
// Reply:    { id, results }  with `results` a transferred Uint8Array, 1 = valid, 0 = invalid;
//           or { id, error } when the request itself is unusable.
// The main thread has already rejected lengths and out-of-range / high-S scalars; both libraries
// reject high-S again (libsecp256k1 verify, noble lowS: true).
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { secp256k1 } from '@noble/curves/secp256k1.js';

const RECORD_BYTES = 160;
const require = createRequire(import.meta.url);
let nativeAddon;

function nativeVerifier() {
  nativeAddon ??= require('secp256k1/bindings');
  const addon = nativeAddon;
  return (signature, digest, sec1Key) => addon.ecdsaVerify(signature, digest, sec1Key);
}

const NOBLE_OPTIONS = { prehash: false, lowS: true, format: 'compact' };
function nobleVerifier() {
  return (signature, digest, sec1Key) =>
    secp256k1.verify(signature, digest, sec1Key, NOBLE_OPTIONS);
}

function verifyRecords(verify, bytes, count) {
  const results = new Uint8Array(count);
  const sec1Key = new Uint8Array(65);
  sec1Key[0] = 0x04;
  let keyOffset = -1;
  for (let i = 0; i < count; i++) {
    const base = i * RECORD_BYTES;
    // Consecutive records usually share the batch key; rebuild the SEC1 form only when it changes.
    if (keyOffset < 0 || !sameKey(bytes, keyOffset, base + 96)) {
      sec1Key.set(bytes.subarray(base + 96, base + 160), 1);
      keyOffset = base + 96;
    }
    try {
      results[i] = verify(
        bytes.subarray(base, base + 64),
        bytes.subarray(base + 64, base + 96),
        sec1Key,
      )
        ? 1
        : 0;
    } catch {
      results[i] = 0;
    }
  }
  return results;
}

function sameKey(bytes, a, b) {
  for (let i = 0; i < 64; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

const verifiers = new Map();
parentPort.on('message', (request) => {
  const { id, backend, count, buffer } = request;
  try {
    if (
      !(buffer instanceof ArrayBuffer) ||
      !Number.isSafeInteger(count) ||
      buffer.byteLength !== count * RECORD_BYTES
    ) {
      throw new Error('malformed verification request');
    }
    if (!verifiers.has(backend)) {
      if (backend === 'native') verifiers.set(backend, nativeVerifier());
      else if (backend === 'noble') verifiers.set(backend, nobleVerifier());
      else throw new Error(`unknown backend ${String(backend)}`);
    }
    const results = verifyRecords(verifiers.get(backend), new Uint8Array(buffer), count);
    parentPort.postMessage({ id, results }, [results.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
