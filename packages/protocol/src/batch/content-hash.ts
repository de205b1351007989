import { createHash } from 'node:crypto';

/**
 * `content_hash` = SHA-256 over the raw COSE messages concatenated without any framing
 * (docs/protocol.md#content-hash). Hashes incrementally, so no concatenated copy is made.
 */
export function computeContentHash(messages: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const m of messages) hash.update(m);
  return new Uint8Array(hash.digest());
}
