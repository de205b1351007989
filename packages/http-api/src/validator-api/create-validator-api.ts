import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { z } from 'zod';
import { HttpApiConfigError, HttpApiError } from '../errors';
import type { ValidatorMetrics } from '../metrics/create-validator-metrics';
import { evaluateReadiness, isRunning, statusToJson } from '../status/status-json';
import type { StatusProvider } from '../status/status-types';

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
  metrics: ValidatorMetrics;
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
}

const optionsSchema = z.object({
  maxLag: z
    .union([z.bigint().nonnegative(), z.number().int().nonnegative()])
    .optional()
    .describe('maximum lag in sequences'),
});

type Env = { Variables: { requestId: string } };

/** Routes whose path is a bounded label for HTTP metrics; anything else is `unknown`. */
const ROUTES = new Set(['/health', '/healthz', '/ready', '/status', '/metrics']);

/**
 * The validator's main API (REFERENCE.md §1.11): `/health`, `/healthz`, `/ready`, `/status`,
 * `/metrics`. Every response carries `x-request-id` (the client's when well-formed, else a UUID).
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
  const { metrics } = options;

  let observedCaughtUp = false;
  const readStatus = () => {
    const status = options.status();
    if (status.state === 'caught_up') observedCaughtUp = true;
    const syncedOnce = options.syncedOnce?.() ?? observedCaughtUp;
    const readiness = evaluateReadiness(status, { maxLag, syncedOnce });
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
    await next();
    if (c.req.path !== '/metrics') c.header('cache-control', 'no-store');
  });

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
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  app.notFound((c) => c.json({ error: 'not found', code: 'NOT_FOUND' }, 404));
  app.onError((error, c) => {
    if (error instanceof HttpApiError) {
      return c.json({ error: error.shortMessage, code: error.code }, error.status as 400);
    }
    return c.json({ error: 'internal error', code: 'INTERNAL' }, 500);
  });
  return app;
}
