// `POST /query` answered on Node's request/response objects, before Hono. The same answer as the
// Hono route (status, body, headers; the shared parts are query-routes.ts's parseQueryPostBody
// and answerQuery), the same limits (rate limit, body limit, output budgets, refusal delay), the
// same metrics and access-log callback, at a fraction of the CPU: in a profile of the validator's
// API thread at 1,000 point queries/s, Hono's request and response objects (an undici Request
// with a web stream for the body, Headers, the node-server adapter) and the per-request
// middleware closures were ~25% of the thread, more than the query dispatch itself.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { QueryError, type QueryService } from '@synddb/query';
import { HttpApiError } from '../errors';
import type { RateLimiter } from '../limits/rate-limiter';
import {
  answerQuery,
  type PlainResponse,
  parseQueryPostBody,
  plainErrorResponse,
} from '../query/query-routes';
import type { ConnectionLimits } from '../serve/connection-limits';
import type { ResponseInfo } from './create-validator-api';
import type { HttpMetrics } from './http-metrics';

/** Handles the request and returns true, or returns false (Hono answers it). */
export type NodeFastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Where `createValidatorApi` leaves its fast path on the app for `serveValidatorApi`. */
export const FAST_PATH = Symbol.for('@synddb/http-api.fastPath');

export interface QueryFastPathOptions {
  query: QueryService;
  metrics: HttpMetrics;
  rateLimit: RateLimiter | undefined;
  connectionLimits: ConnectionLimits | undefined;
  refusalDelayMs: number;
  maxBodyBytes: number;
  /** With CORS on, requests that carry an Origin go to Hono (its CORS middleware). */
  cors: boolean;
  onResponse: ((info: ResponseInfo) => void) | undefined;
}

const INTERNAL: PlainResponse = {
  status: 500,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: 'internal error', code: 'INTERNAL' }),
};

/** Same rule as hono's requestId middleware (limit 128): the client's id, else a UUID. */
function requestIdOf(req: IncomingMessage): string {
  const id = req.headers['x-request-id'];
  if (typeof id === 'string' && id.length > 0 && id.length <= 128 && !/[^\w\-=]/.test(id)) {
    return id;
  }
  return randomUUID();
}

/** The peer address, as `clientAddress` reads it through Hono. */
const clientOf = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

/** Waits `ms` or until the client's connection closes (see `refusalDelay`). */
function refusalWait(req: IncomingMessage, ms: number): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      req.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    req.once('close', done);
  });
}

const tooLarge = (max: number): PlainResponse => ({
  status: 413,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: `request body larger than ${max} bytes`, code: 'BODY_TOO_LARGE' }),
});

/**
 * The body as text, or a 413 answer when it is (declared or streamed) larger than `max` bytes;
 * undefined when the request ends in an error (the connection is gone).
 */
function readBody(req: IncomingMessage, max: number): Promise<string | PlainResponse | undefined> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.resolve(tooLarge(max));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        resolve(tooLarge(max));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(
        chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
      );
    };
    const onError = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

/** `POST /query` on Node's objects: see the file's comment. */
export function createQueryFastPath(options: QueryFastPathOptions): NodeFastPath {
  const { query, metrics, rateLimit, connectionLimits, refusalDelayMs, maxBodyBytes } = options;
  const pending = metrics.httpRequestsPending.labels('POST', '/query');
  // Metric children per status: a labelled observe hashes its label object on every call.
  const byStatus = new Map<
    number,
    {
      count: ReturnType<HttpMetrics['httpRequests']['labels']>;
      duration: ReturnType<HttpMetrics['httpRequestDuration']['labels']>;
    }
  >();
  const observed = (status: number) => {
    let m = byStatus.get(status);
    if (m === undefined) {
      const labels = ['POST', '/query', String(status)] as const;
      m = {
        count: metrics.httpRequests.labels(...labels),
        duration: metrics.httpRequestDuration.labels(...labels),
      };
      byStatus.set(status, m);
    }
    return m;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    pending.inc();
    let response: PlainResponse;
    try {
      response = await respond(req);
    } catch (error) {
      response =
        error instanceof HttpApiError || error instanceof QueryError
          ? plainErrorResponse(error)
          : INTERNAL;
    }
    pending.dec();
    const body = response.body;
    if (!res.destroyed) {
      res.writeHead(response.status, {
        'x-request-id': requestId,
        'cache-control': 'no-store',
        ...response.headers,
        'content-length':
          typeof body === 'string' ? Buffer.byteLength(body) : String(body.byteLength),
      });
      res.end(body);
    }
    const seconds = (performance.now() - started) / 1000;
    const m = observed(response.status);
    m.count.inc();
    m.duration.observe(seconds);
    options.onResponse?.({
      method: 'POST',
      path: '/query',
      status: response.status,
      durationMs: seconds * 1000,
      requestId,
    });
  };

  const respond = async (req: IncomingMessage): Promise<PlainResponse> => {
    const client = clientOf(req);
    if (rateLimit?.enabled) {
      const decision = rateLimit.take(client);
      if (!decision.allowed) {
        await refusalWait(req, Math.min(refusalDelayMs, decision.retryAfterSeconds * 1000));
        return {
          status: 429,
          headers: {
            'content-type': 'application/json',
            'retry-after': String(decision.retryAfterSeconds),
          },
          body: JSON.stringify({ error: 'rate limit exceeded', code: 'RATE_LIMITED' }),
        };
      }
    }
    const text = await readBody(req, maxBodyBytes);
    if (text === undefined) throw new Error('the request failed before its body was read');
    if (typeof text !== 'string') return text;
    return answerQuery(query, parseQueryPostBody(text), client, connectionLimits, () =>
      refusalWait(req, refusalDelayMs),
    );
  };

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== '/query') return false;
    if (options.cors && req.headers.origin !== undefined) return false;
    void handle(req, res);
    return true;
  };
}
