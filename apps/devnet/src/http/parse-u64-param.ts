const U64_MAX = (1n << 64n) - 1n;

/**
 * A u64 path segment as axum's `Path<u64>` accepts it (digits, optional leading `+`), or null.
 * Callers answer null with 400, like axum's path rejection.
 */
export function parseU64Param(text: string): bigint | null {
  if (!/^\+?[0-9]{1,40}$/.test(text)) return null;
  const value = BigInt(text.startsWith('+') ? text.slice(1) : text);
  return value > U64_MAX ? null : value;
}

/** axum's rejection text for a path segment that is not a u64. */
export function invalidU64Text(text: string): string {
  return `Invalid URL: Cannot parse \`${text.slice(0, 100)}\` to a \`u64\``;
}
