/**
 * An HTTP `Retry-After` value in ms from `now`: delay-seconds (`120`) or an HTTP-date. Undefined
 * when absent or malformed; a date in the past is 0. Callers cap it: a server must not be able to
 * park a validator for a day.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  // IMF-fixdate and the obsolete forms all carry a weekday name and "GMT".
  if (!/^[A-Za-z]{3,9},? .*GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
