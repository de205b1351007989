import { BatchFilenameError } from './errors';

const SUFFIX = '.cbor.zst';
const U64_MAX = (1n << 64n) - 1n;

/**
 * `{start:012}_{end:012}.cbor.zst` (docs/protocol.md#batch-object-names): zero-padded to at least
 * 12 digits; larger numbers simply get longer, as Rust's `{:012}` does.
 */
export function formatBatchFilename(start: bigint | number, end: bigint | number): string {
  return `${formatU64('start', start)}_${formatU64('end', end)}${SUFFIX}`;
}

/**
 * Parses a batch object name the way Rust's `parse_batch_filename` does: strip `.cbor.zst`, split
 * on `_`, exactly two parts, each a u64 as `str::parse::<u64>` accepts it (ASCII digits of any
 * width, optional leading `+`). Returns null for anything else. `start <= end` is not checked
 * here (Rust does not either); batch indexes check ranges.
 */
export function parseBatchFilename(name: string): { start: bigint; end: bigint } | null {
  if (!name.endsWith(SUFFIX)) return null;
  const parts = name.slice(0, -SUFFIX.length).split('_');
  if (parts.length !== 2) return null;
  const start = parseU64(parts[0]!);
  const end = parseU64(parts[1]!);
  if (start === null || end === null) return null;
  return { start, end };
}

function parseU64(text: string): bigint | null {
  if (!/^\+?[0-9]+$/.test(text)) return null;
  const value = BigInt(text.startsWith('+') ? text.slice(1) : text);
  return value > U64_MAX ? null : value;
}

function formatU64(field: string, value: bigint | number): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new BatchFilenameError(`${field} ${value} is not a safe integer; pass a bigint`);
  }
  const v = BigInt(value);
  if (v < 0n || v > U64_MAX) throw new BatchFilenameError(`${field} ${v} is outside the u64 range`);
  return v.toString().padStart(12, '0');
}
