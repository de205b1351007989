const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A bridge message id as the signature store keys it: `0x` + 64 lowercase hex characters. Accepts
 * the id with or without `0x`/`0X` and in any case; returns null for anything else (wrong length,
 * non-hex, empty). The reference matches ids case-sensitively, so an uppercase id 404s there.
 */
export function normalizeMessageId(id: string): string | null {
  // Bound the work before lowercasing: a valid id is at most 66 characters.
  if (id.length !== 64 && id.length !== 66) return null;
  let hex = id;
  if (id.length === 66) {
    if (id[0] !== '0' || (id[1] !== 'x' && id[1] !== 'X')) return null;
    hex = id.slice(2);
  }
  hex = hex.toLowerCase();
  return HEX64.test(hex) ? `0x${hex}` : null;
}
