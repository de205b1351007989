import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Golden vectors (docs/protocol.md#wire-format-vectors), loaded once for all tests. */
export const vectors = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/wire-format.json', import.meta.url)), 'utf8'),
);

export function hex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export const ANVIL0_PUBKEY: Uint8Array = hex(vectors.keys.anvil0.pubkey64);
