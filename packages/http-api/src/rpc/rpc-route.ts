import type { QueryService } from '@synddb/query';
import type { Hono } from 'hono';
import { handleJsonRpc } from './json-rpc';

// biome-ignore lint/suspicious/noExplicitAny: any hono env
type AnyHono = Hono<any>;

/** `POST /rpc`: JSON-RPC 2.0. Always 200 with a JSON-RPC body (204 when only notifications). */
export function registerRpcRoute(
  app: AnyHono,
  options: { query?: QueryService | undefined; status: () => unknown },
): void {
  app.post('/rpc', async (c) => {
    const text = await c.req.text();
    const response = await handleJsonRpc(text, { query: options.query, status: options.status });
    if (response === null) return c.body(null, 204);
    return c.body(response, 200, { 'content-type': 'application/json' });
  });
}
