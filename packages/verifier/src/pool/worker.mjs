// Worker of the @synddb/verifier pool. Plain JavaScript on purpose: it runs unchanged from the
// package sources (vitest) and from dist, without a TypeScript loader.
//
// Request:  { id, backend: 'native' | 'noble', count, buffer }  where `buffer` (transferred) holds
//           `count` records of 160 bytes: signature r||s (64) | digest (32) | pubkey X||Y (64).
// Reply:    { id, results }  with `results` a transferred Uint8Array, 1 = valid, 0 = invalid;
//           or { id, error } when the request itself is unusable.
// The main thread has already rejected lengths and out-of-range / high-S scalars (the rule every
// backend shares); libsecp256k1's verify rejects high-S again on its own.
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

// Same arithmetic as the noble backend's bound verifier (src/backend/noble-backend.ts): a key
// with a precomputed wNAF table (window 8) is ~3x faster than secp256k1.verify re-parsing it.
const { Point } = secp256k1;
const Fn = Point.Fn;
const NOBLE_KEY_WINDOW = 8;
const NOBLE_KEY_CACHE_SIZE = 8;
function nobleVerifier() {
  const prepared = new Map();
  const pointFor = (sec1Key) => {
    const id = Buffer.from(sec1Key).toString('hex');
    let point = prepared.get(id);
    if (point === undefined) {
      point = Point.fromBytes(sec1Key);
      point.assertValidity();
      point.precompute(NOBLE_KEY_WINDOW, false);
      if (prepared.size >= NOBLE_KEY_CACHE_SIZE) prepared.delete(prepared.keys().next().value);
      prepared.set(id, point);
    }
    return point;
  };
  return (signature, digest, sec1Key) => {
    const key = pointFor(sec1Key);
    const r = toBigInt(signature.subarray(0, 32));
    const s = toBigInt(signature.subarray(32, 64));
    const h = Fn.create(toBigInt(digest));
    const sInverse = Fn.inv(s);
    const R = Point.BASE.multiplyUnsafe(Fn.create(h * sInverse)).add(
      key.multiplyUnsafe(Fn.create(r * sInverse)),
    );
    if (R.is0()) return false;
    return Fn.create(R.toAffine().x) === r;
  };
}

function toBigInt(bytes) {
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
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
