import { createNativeBackend } from '../src/backend/native-backend';
import { createNobleBackend } from '../src/backend/noble-backend';
import type { Secp256k1Backend } from '../src/backend/types';

/** Every backend, as `describe.each` rows: suites run identically against each. */
export const BACKENDS: Array<[Secp256k1Backend['name'], Secp256k1Backend]> = [
  ['native', createNativeBackend()],
  ['noble', createNobleBackend()],
];
