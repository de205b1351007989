import type { ColumnValue } from '@synddb/applier';
import { jsonInteger } from '../status/json-integer';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `0x`-prefixed lowercase hex of `bytes` (`0x` for an empty blob). */
export function hex0x(bytes: Uint8Array): string {
  let out = '0x';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}

/**
 * A SQLite value as JSON: integers beyond ±(2^53−1) as decimal strings, blobs as `0x` hex,
 * non-finite reals as `"Infinity"` / `"-Infinity"`, NULL as null.
 */
export function jsonSqlValue(value: ColumnValue): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return jsonInteger(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return value;
  return hex0x(value);
}
