export interface RetryDelayParameters {
  /** Consecutive failures, counting the one that just happened (1 for the first). */
  failures: number;
  /** Ceiling of the first wait, ms. */
  initialDelayMs: number;
  /** Ceiling of every wait, ms: the backoff doubles up to it and stays there. */
  maxDelayMs: number;
  /** The wait storage asked for (Retry-After), ms, if it asked. */
  retryAfterMs: number | undefined;
  /** A Retry-After is honoured up to this, ms. */
  maxRetryAfterMs: number;
  /** Uniform in [0, 1). */
  random: () => number;
}

/**
 * How long the sync engine waits after a failed step: bounded exponential backoff with "equal
 * jitter" (uniform in [ceiling/2, ceiling], ceiling = min(max, initial * 2^(failures-1))), so a
 * brief blip is retried within a fraction of a second, a long outage is polled at `maxDelayMs`,
 * and many validators that lost the same storage spread out instead of retrying in lockstep,
 * without ever spinning (never less than half the ceiling). A Retry-After lengthens the wait, up
 * to `maxRetryAfterMs`: a storage host cannot park a validator for longer than that.
 */
export function retryDelay(parameters: RetryDelayParameters): number {
  const { failures, initialDelayMs, maxDelayMs, retryAfterMs, maxRetryAfterMs, random } =
    parameters;
  const exponent = Math.min(Math.max(0, failures - 1), 52);
  const ceiling = Math.max(0, Math.min(maxDelayMs, initialDelayMs * 2 ** exponent));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  const asked = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, maxRetryAfterMs);
  return Math.round(Math.max(jittered, asked));
}
