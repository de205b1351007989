/**
 * Parsers for configuration values. Each returns the parsed value or a string saying what was
 * expected; the schema turns that string into an issue naming the flag and env var.
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  msec: 1,
  msecs: 1,
  millis: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** Largest duration accepted: what a Node timer can wait (~24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * humantime-style durations as the reference accepts them: `500ms`, `1s`, `5m`, `1h 30m`,
 * `1m30s`. A bare number is refused (the unit would be a guess). Returns milliseconds.
 */
export function parseDuration(text: string): number | string {
  const input = text.trim();
  const expected = 'expected a duration such as 500ms, 1s, 5m or 1h 30m';
  if (input === '') return expected;
  if (/^\d+$/.test(input)) return `${expected} (add a unit: ${input}s or ${input}ms)`;
  let total = 0;
  let rest = input;
  while (rest.length > 0) {
    const match = /^(\d{1,12})\s*([a-z]+)\s*/i.exec(rest);
    if (match === null) return expected;
    const unit = DURATION_UNITS[match[2]!.toLowerCase()];
    if (unit === undefined) return `${expected} (unknown unit ${JSON.stringify(match[2])})`;
    total += Number(match[1]) * unit;
    rest = rest.slice(match[0].length);
  }
  if (total > MAX_DURATION_MS) return `duration must be at most ${MAX_DURATION_MS} ms (~24 days)`;
  return total;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Byte sizes: `1048576`, `64MiB`, `1GiB`, `500MB`. Returns bytes as a safe integer. */
export function parseByteSize(text: string): number | string {
  const match = /^(\d{1,16})\s*([a-z]*)$/i.exec(text.trim());
  const expected = 'expected a byte size such as 1048576, 64MiB or 1GiB';
  if (match === null) return expected;
  const unit = SIZE_UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return `${expected} (unknown unit ${JSON.stringify(match[2])})`;
  const value = Number(match[1]) * unit;
  if (!Number.isSafeInteger(value)) return 'byte size is too large';
  return value;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function parseBoolean(text: string): boolean | string {
  const v = text.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return 'expected true or false';
}

/** Decimal integer in [min, max] (bigint bounds so u64 works). */
export function parseInteger(text: string, min: bigint, max: bigint): bigint | string {
  const v = text.trim();
  if (!/^-?\d{1,20}$/.test(v)) return `expected an integer in [${min}, ${max}]`;
  const n = BigInt(v);
  if (n < min || n > max) return `must be an integer in [${min}, ${max}], got ${v}`;
  return n;
}

/** An http(s) base URL without query or fragment; trailing slashes are trimmed. */
export function parseHttpUrl(text: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { error: 'expected an http(s) URL such as http://127.0.0.1:8433' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { error: `expected an http(s) URL, got scheme ${url.protocol}` };
  }
  if (url.search !== '' || url.hash !== '')
    return { error: 'URL must not have a query or fragment' };
  return text.trim().replace(/\/+$/, '');
}
