import type { QueryService } from '@synddb/query';
import type { Context, Hono } from 'hono';
import { clientAddress } from '../limits/http-limits';
import type { RateLimiter } from '../limits/rate-limiter';
import { outputBusy } from '../query/query-routes';
import type { ConnectionLimits } from '../serve/connection-limits';
import { handleJsonRpc } from './json-rpc';

// biome-ignore lint/suspicious/noExplicitAny: any hono env
type AnyHono = Hono<any>;

export interface RpcRouteOptions {
  query?: QueryService | undefined;
  status: () => unknown;
  /** Each batch member beyond the first takes a token of the client's bucket. */
  rateLimit?: RateLimiter | undefined;
  /** The client's unread output lowers the batch's response budget (see `ConnectionLimits`). */
  connectionLimits?: ConnectionLimits | undefined;
  clientKey?: ((c: Context) => string) | undefined;
}

/** `POST /rpc`: JSON-RPC 2.0. Always 200 with a JSON-RPC body (204 when only notifications). */
export function registerRpcRoute(app: AnyHono, options: RpcRouteOptions): void {
  const key = options.clientKey ?? clientAddress;
  app.post('/rpc', async (c) => {
    const client = key(c);
    const limits = options.connectionLimits;
    if (limits !== undefined && limits.outputHeadroom(client) <= 0) return outputBusy(c);
    const limiter = options.rateLimit;
    const text = await c.req.text();
    const response = await handleJsonRpc(text, {
      query: options.query,
      status: options.status,
      client,
      takeToken: limiter?.enabled ? () => limiter.take(client).allowed : undefined,
    });
    if (response === null) return c.body(null, 204);
    if (limits !== undefined && !limits.admitOutput(client, response.byteLength)) {
      return outputBusy(c);
    }
    return c.body(response, 200, { 'content-type': 'application/json' });
  });
}
