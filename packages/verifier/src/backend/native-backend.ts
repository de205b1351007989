import { createRequire } from 'node:module';
import { BackendUnavailableError } from '../errors';
import { makeBackend } from './make-backend';
import type { Secp256k1Backend } from './types';

/** The subset of the cryptocoinjs `secp256k1/bindings` API used here. */
interface NativeSecp256k1 {
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean;
  publicKeyVerify(pubkey: Uint8Array): boolean;
}

let loaded: { addon: NativeSecp256k1 } | { error: unknown } | undefined;

/**
 * Loads libsecp256k1 through `secp256k1/bindings` (not the package root, which silently falls
 * back to the pure-JS `elliptic` when the addon fails). Cached per process.
 */
function loadAddon(): NativeSecp256k1 {
  if (loaded === undefined) {
    try {
      const require = createRequire(import.meta.url);
      loaded = { addon: require('secp256k1/bindings') as NativeSecp256k1 };
    } catch (error) {
      loaded = { error };
    }
  }
  if ('error' in loaded) throw new BackendUnavailableError('native', loaded.error);
  return loaded.addon;
}

/**
 * libsecp256k1 (N-API prebuild). Its verify rejects high-S and its compact parser rejects r, s >= n,
 * the same rules as k256; the shared wrapper checks them first anyway.
 * Throws `BackendUnavailableError` when the addon cannot be loaded on this platform.
 */
export function createNativeBackend(): Secp256k1Backend {
  const addon = loadAddon();
  return makeBackend('native', {
    verifyPrehashed: (signature, digest, sec1Key) => addon.ecdsaVerify(signature, digest, sec1Key),
    isPoint: (sec1Key) => addon.publicKeyVerify(sec1Key),
  });
}

/** true when the native addon loads in this process. */
export function isNativeBackendAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}
