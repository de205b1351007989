import { createNativeBackend, isNativeBackendAvailable } from './native-backend';
import { createNobleBackend } from './noble-backend';
import type { Secp256k1Backend } from './types';

let cached: Secp256k1Backend | undefined;

/** The native backend when its addon loads, otherwise noble. Created once per process. */
export function defaultBackend(): Secp256k1Backend {
  cached ??= isNativeBackendAvailable() ? createNativeBackend() : createNobleBackend();
  return cached;
}
