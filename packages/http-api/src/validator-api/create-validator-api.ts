import type { QueryService } from '@synddb/query';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { HttpApiConfigError } from '../errors';
import { installJsonErrorHandlers } from '../json-error-handlers';
import { bodyLimitMiddleware, corsMiddleware, rateLimitMiddleware } from '../limits/http-limits';
import { createRateLimiter, type RateLimiter } from '../limits/rate-limiter';
import { buildOpenApiDocument } from '../openapi/openapi-document';
import { registerQueryRoutes } from '../query/query-routes';
import { registerRpcRoute } from '../rpc/rpc-route';
import type { ConnectionLimits } from '../serve/connection-limits';
import {
  evaluateReadiness,
  isRunning,
  type StatusProvider,
  statusToJson,
} from '../status/status-json';
import type { SyncMetrics } from '../sync-metrics/sync-metrics';
import type { HttpMetrics } from './http-metrics';
import { createQueryFastPath, FAST_PATH } from './query-fast-path';

/**
 * The metrics the validator API uses: it records HTTP requests, refreshes the status gauges and
 * serves `registry` on `/metrics`. The validator's `createValidatorMetrics()` fits.
 */
export interface ValidatorApiMetrics extends HttpMetrics, Pick<SyncMetrics, 'observeStatus'> {
  readonly registry: Registry;
}

export interface ResponseInfo {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
}

export interface CreateValidatorApiOptions {
  /** Current sync status; called on every request that reports it. */
  status: StatusProvider;
  metrics: ValidatorApiMetrics;
  /** `/ready` answers 503 when the replica is more than this many sequences behind. Default: no limit. */
  maxLag?: bigint | number | undefined;
  /**
   * Whether the replica has caught up with storage at least once since start. Default: remembered
   * from the statuses this app observes (`state === 'caught_up'`); pass the engine's `caughtUp`
   * event instead so a catch-up between two requests is not missed.
   */
  syncedOnce?: (() => boolean) | undefined;
  /** Called after every response, e.g. for access logs. */
  onResponse?: ((info: ResponseInfo) => void) | undefined;
  /**
   * Serves `GET/POST /query` and the JSON-RPC `synddb_query` method (`createQueryService` of
   * `@synddb/query`). Default: no queries.
   */
  query?: QueryService | undefined;
  /**
   * Per-client token bucket on every route except /health, /healthz, /ready and /metrics
   * (429 with Retry-After). A limiter, or `{ratePerSecond, burst}`; rate 0 = off. Default off.
   */
  rateLimit?: RateLimiter | { ratePerSecond: number; burst?: number | undefined } | undefined;
  /** Largest request body; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
  /** Origins allowed by CORS (`*` = any). Default: no CORS headers. */
  corsOrigins?: readonly string[] | undefined;
  /**
   * The connection limits the server applies (`createConnectionLimits`, also given to
   * `serveValidatorApi`): queries and JSON-RPC answer 429 `OUTPUT_BUSY` to a client whose
   * connections hold more unread output than one result may take.
   */
  connectionLimits?: ConnectionLimits | undefined;
  /**
   * A client refused for being over a limit (429: `RATE_LIMITED`, `QUERY_CLIENT_BUSY`,
   * `OUTPUT_BUSY`) gets its answer after this long (at most its Retry-After), so clients that
   * re-send at once cannot keep this thread busy refusing them. Default 0 (at once).
   */
  refusalDelayMs?: number | undefined;
  /**
   * Exposition text of metrics kept in another registry (e.g. another thread's), served on
   * `/metrics` before `metrics.registry`'s own. The two must not share metric names.
   */
  externalMetrics?: (() => Promise<string>) | undefined;
}

const optionsSchema = z.object({
  maxLag: z
    .union([z.bigint().nonnegative(), z.number().int().nonnegative()])
    .optional()
    .describe('maximum lag in sequences'),
});

type Env = { Variables: { requestId: string } };

/** Routes whose path is a bounded label for HTTP metrics; anything else is `unknown`. */
const ROUTES = new Set([
  '/health',
  '/healthz',
  '/ready',
  '/status',
  '/metrics',
  '/query',
  '/rpc',
  '/openapi.json',
]);

/**
 * The validator's main API: `/health`, `/healthz`, `/ready`, `/status`, `/metrics`
 * (docs/compatibility.md#validator-api-routes), plus `/query` (with `options.query`), `/rpc`
 * (JSON-RPC 2.0) and `/openapi.json`. Every response carries `x-request-id` (the client's when
 * well-formed, else a UUID).
 */
export function createValidatorApi(options: CreateValidatorApiOptions): Hono<Env> {
  const parsed = optionsSchema.safeParse({ maxLag: options.maxLag });
  if (!parsed.success) {
    throw new HttpApiConfigError(
      'invalid createValidatorApi options',
      z.prettifyError(parsed.error),
    );
  }
  const maxLag = parsed.data.maxLag === undefined ? undefined : BigInt(parsed.data.maxLag);
  const limits = options.connectionLimits;
  if (
    limits !== undefined &&
    options.query !== undefined &&
    Math.min(limits.maxOutputPerClient, limits.maxOutputTotal) < options.query.limits.maxBytes
  ) {
    throw new HttpApiConfigError(
      `the output budgets (per client ${limits.maxOutputPerClient}, total ${limits.maxOutputTotal} bytes) must be at least one query result (${options.query.limits.maxBytes} bytes)`,
    );
  }
  const { metrics } = options;

  let observedCaughtUp = false;
  const readStatus = () => {
    const status = options.status();
    if (status.state === 'caught_up') observedCaughtUp = true;
    const syncedOnce = options.syncedOnce?.() ?? observedCaughtUp;
    const readiness = evaluateReadiness(status, { maxLag, syncedOnce });
    // Reads are what a load balancer sends here: no worker that can answer, not ready.
    if (options.query !== undefined && options.query.available === 0) {
      readiness.ready = false;
      readiness.reasons.push('no query worker can answer (being replaced or cannot start)');
    }
    return { status, syncedOnce, readiness };
  };

  const app = new Hono<Env>();
  app.use(requestId({ headerName: 'x-request-id', limitLength: 128 }));
  app.use(async (c, next) => {
    const started = performance.now();
    const method = c.req.method;
    const pendingLabels = { method, endpoint: ROUTES.has(c.req.path) ? c.req.path : 'unknown' };
    metrics.httpRequestsPending.inc(pendingLabels);
    try {
      await next();
    } finally {
      metrics.httpRequestsPending.dec(pendingLabels);
      const seconds = (performance.now() - started) / 1000;
      const labels = { ...pendingLabels, status: String(c.res.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestDuration.observe(labels, seconds);
      options.onResponse?.({
        method,
        path: c.req.path,
        status: c.res.status,
        durationMs: seconds * 1000,
        requestId: c.get('requestId'),
      });
    }
  });
  app.use(async (c, next) => {
    if (c.req.path === '/metrics') return next();
    // Set before the handler builds its response: a header set on a finished response makes
    // Hono rebuild it from its body stream (@hono/node-server then copies an 8 MB query result
    // into a web stream and writes it chunk by chunk, measured at ~800 ms of the thread in the
    // never-reading-clients abuse; every response paid a smaller share of that).
    c.header('cache-control', 'no-store');
    await next();
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
  });
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) {
    app.use(corsMiddleware(options.corsOrigins));
  }
  const limiter =
    options.rateLimit === undefined
      ? undefined
      : 'take' in options.rateLimit
        ? options.rateLimit
        : createRateLimiter(options.rateLimit);
  if (limiter?.enabled) {
    app.use(rateLimitMiddleware(limiter, { refusalDelayMs: options.refusalDelayMs }));
  }
  const bodyLimit = bodyLimitMiddleware(options.maxBodyBytes ?? 1024 * 1024);
  app.post('*', bodyLimit);

  const health = () => ({ status: 'healthy', running: isRunning(options.status()) });
  app.get('/health', (c) => c.json(health()));
  app.get('/healthz', (c) => c.json(health()));

  app.get('/ready', (c) => {
    const { status, readiness } = readStatus();
    const body = {
      status: readiness.ready ? 'ready' : 'not_ready',
      running: isRunning(status),
      reasons: readiness.reasons,
    };
    return c.json(body, readiness.ready ? 200 : 503);
  });

  app.get('/status', (c) => {
    const { status, syncedOnce, readiness } = readStatus();
    return c.json(statusToJson(status, { syncedOnce, ready: readiness.ready }));
  });

  app.get('/metrics', async (c) => {
    metrics.observeStatus(options.status());
    const [external, own] = await Promise.all([
      options.externalMetrics?.() ?? '',
      metrics.registry.metrics(),
    ]);
    const text =
      external === '' || external.endsWith('\n') ? external + own : `${external}\n${own}`;
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  if (options.query !== undefined) {
    registerQueryRoutes(app, options.query, {
      connectionLimits: options.connectionLimits,
      refusalDelayMs: options.refusalDelayMs,
    });
  }
  registerRpcRoute(app, {
    query: options.query,
    rateLimit: limiter,
    connectionLimits: options.connectionLimits,
    status: () => {
      const { status, syncedOnce, readiness } = readStatus();
      return statusToJson(status, { syncedOnce, ready: readiness.ready });
    },
  });
  const openapi = JSON.stringify(buildOpenApiDocument({ queries: options.query !== undefined }));
  app.get('/openapi.json', (c) => c.body(openapi, 200, { 'content-type': 'application/json' }));

  installJsonErrorHandlers(app);
  if (options.query !== undefined) {
    // serveValidatorApi answers `POST /query` with this before Hono (same answers, less CPU).
    Object.defineProperty(app, FAST_PATH, {
      value: createQueryFastPath({
        query: options.query,
        metrics,
        rateLimit: limiter,
        connectionLimits: options.connectionLimits,
        refusalDelayMs: options.refusalDelayMs ?? 0,
        maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
        cors: options.corsOrigins !== undefined && options.corsOrigins.length > 0,
        onResponse: options.onResponse,
      }),
    });
  }
  return app;
}
