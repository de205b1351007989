import { HttpApiConfigError } from '../errors';

export interface RateLimiterOptions {
  /** Sustained requests per second per client; 0 turns limiting off. */
  ratePerSecond: number;
  /** Requests a client may send at once after being idle. Default: max(1, ceil(rate)). */
  burst?: number | undefined;
  /** Clients tracked at most; the least recently seen are forgotten first. Default 100 000. */
  maxClients?: number | undefined;
  /** Clock in ms (tests). Default `performance.now`. */
  now?: (() => number) | undefined;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  readonly enabled: boolean;
  /** Takes one token from `client`'s bucket, or says how long until one is available. */
  take(client: string): RateDecision;
  /** Clients currently tracked. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * Token buckets keyed by client (the peer IP address): each holds up to `burst` tokens and refills
 * at `ratePerSecond`. Memory is bounded: a Map in least-recently-seen order, trimmed to
 * `maxClients` (a forgotten client starts again with a full bucket, which only ever favors it).
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const rate = options.ratePerSecond;
  if (!Number.isFinite(rate) || rate < 0 || rate > 1e9) {
    throw new HttpApiConfigError(`rate limit must be a number in [0, 1e9], got ${rate}`);
  }
  const burst = options.burst ?? Math.max(1, Math.ceil(rate));
  if (!Number.isSafeInteger(burst) || burst < 1) {
    throw new HttpApiConfigError(`rate limit burst must be a positive integer, got ${burst}`);
  }
  const maxClients = options.maxClients ?? 100_000;
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();

  return {
    enabled: rate > 0,
    get size() {
      return buckets.size;
    },
    take(client) {
      if (rate === 0) return { allowed: true };
      const t = now();
      let bucket = buckets.get(client);
      if (bucket === undefined) {
        bucket = { tokens: burst, updated: t };
        if (buckets.size >= maxClients) {
          const oldest = buckets.keys().next().value;
          if (oldest !== undefined) buckets.delete(oldest);
        }
      } else {
        buckets.delete(client);
        bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.updated) / 1000) * rate);
        bucket.updated = t;
      }
      buckets.set(client, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)),
      };
    },
  };
}
