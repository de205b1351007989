import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /**
   * What is awaited, for the timeout message. A function is called at the timeout, so the message
   * can show the state then (e.g. a status object).
   */
  what?: string | (() => string);
  /** Default 20,000 ms: below vitest's test timeout, so this message is the one a failure shows. */
  timeoutMs?: number;
  /** Pause between checks. Default 10 ms. */
  intervalMs?: number;
}

/** `waitFor` gave up: the condition, the time and what the last check did are in the message. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/** What a check returns when it is not done yet. */
type NotYet = false | null | undefined;

/**
 * Checks `check` until it returns something other than `false`, `null` or `undefined`, and
 * resolves with that. A check that throws (an `expect`, a refused connection) counts as not
 * yet; at the timeout the rejection names `what`, the time waited and the last result or error
 * (as `cause`). A bound, not a sleep: it returns as soon as the condition holds.
 *
 * `options` may be just the `what` text.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitForOptions | string = {},
): Promise<Exclude<T, NotYet>> {
  const {
    what,
    timeoutMs = 20_000,
    intervalMs = 10,
  } = typeof options === 'string' ? { what: options } : options;
  const deadline = performance.now() + timeoutMs;
  let last: { threw: true; error: unknown } | { threw: false; value: unknown };
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== null && value !== undefined)
        return value as Exclude<T, NotYet>;
      last = { threw: false, value };
    } catch (error) {
      last = { threw: true, error };
    }
    if (performance.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const subject = typeof what === 'function' ? what() : (what ?? 'a condition');
  const outcome = last.threw
    ? `the last check threw: ${last.error instanceof Error ? last.error.message : String(last.error)}`
    : `the last check returned ${String(last.value)}`;
  throw new WaitTimeoutError(
    `timed out after ${timeoutMs} ms waiting for ${subject} (${outcome})`,
    last.threw ? { cause: last.error } : undefined,
  );
}
