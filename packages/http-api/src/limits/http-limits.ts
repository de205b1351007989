import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HttpApiConfigError } from '../errors';
import type { RateLimiter } from './rate-limiter';

/** Paths never rate limited: probes and scrapes must not be starved by query traffic. */
export const UNLIMITED_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/healthz',
  '/ready',
  '/metrics',
]);

/** The client's key for rate limiting: the peer address (proxies' X-Forwarded-For is not trusted). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Waits `ms` before a refusal is answered (429 to a client over a limit), or until the client's
 * connection closes. A client that re-sends as soon as it is refused (a closed loop, however
 * many connections it keeps) then sends at most one request per connection per `ms`, instead of
 * as many as this thread can refuse: at 200 connections that flood kept the thread that answers
 * `/health` busy. Holding a refused request costs a timer; connections are capped per client.
 */
export function refusalDelay(c: Context, ms: number): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve) => {
    // @hono/node-server puts the Node request in c.env; without it (app.request in tests), wait.
    const incoming = (c.env as { incoming?: NodeJS.EventEmitter } | undefined)?.incoming;
    const done = () => {
      clearTimeout(timer);
      incoming?.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    incoming?.once('close', done);
  });
}

/**
 * Answers 429 with Retry-After (seconds) when the client's bucket is empty, after
 * `refusalDelayMs` (at most the Retry-After; see `refusalDelay`). Default 0.
 */
export function rateLimitMiddleware(
  limiter: RateLimiter,
  options: {
    clientKey?: (c: Context) => string;
    exempt?: ReadonlySet<string>;
    refusalDelayMs?: number | undefined;
  } = {},
): MiddlewareHandler {
  const key = options.clientKey ?? clientAddress;
  const exempt = options.exempt ?? UNLIMITED_PATHS;
  const delayMs = options.refusalDelayMs ?? 0;
  return async (c, next) => {
    if (!limiter.enabled || exempt.has(c.req.path) || c.req.method === 'OPTIONS') return next();
    const decision = limiter.take(key(c));
    if (decision.allowed) return next();
    await refusalDelay(c, Math.min(delayMs, decision.retryAfterSeconds * 1000));
    c.header('retry-after', String(decision.retryAfterSeconds));
    return c.json({ error: 'rate limit exceeded', code: 'RATE_LIMITED' }, 429);
  };
}

/** Answers 413 when a request body is larger than `maxBytes` (declared or streamed). */
export function bodyLimitMiddleware(maxBytes: number): MiddlewareHandler {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new HttpApiConfigError(`maxBodyBytes must be a positive integer, got ${maxBytes}`);
  }
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json({ error: `request body larger than ${maxBytes} bytes`, code: 'BODY_TOO_LARGE' }, 413),
  });
}

/** CORS for the listed origins (`*` = any origin, no credentials). */
export function corsMiddleware(origins: readonly string[]): MiddlewareHandler {
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[^\s/]+$/.test(origin)) {
      throw new HttpApiConfigError(
        `CORS origin must be * or scheme://host[:port] without a path, got ${JSON.stringify(origin)}`,
      );
    }
  }
  const any = origins.includes('*');
  return cors({
    origin: any ? '*' : [...origins],
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['content-type', 'x-request-id'],
    exposeHeaders: ['x-request-id', 'X-SyndDB-Sequence', 'retry-after'],
    maxAge: 600,
  });
}
