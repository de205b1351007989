import { createHash } from 'node:crypto';

/** SHA-256; used only for the batch content hash (docs/protocol.md#content-hash). */
export function sha256(bytes: Uint8Array): Uint8Array {
  // Copy out of the Buffer so callers get a plain Uint8Array that does not alias Node's pool.
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
