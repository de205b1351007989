/**
 * Sequences are u64. JSON numbers lose precision above 2^53-1, so a bigint is written as a JSON
 * number when it is a safe integer and as a decimal string otherwise. Clients that must handle
 * every u64 accept both (`typeof v === 'string' ? BigInt(v) : BigInt(v)`).
 */
export function jsonInteger(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

export function jsonIntegerOrNull(value: bigint | null): number | string | null {
  return value === null ? null : jsonInteger(value);
}
