import { QueryError } from '@synddb/query';
import type { Env, Hono } from 'hono';
import { HttpApiError } from './errors';

/**
 * The JSON answers every app of this package gives outside its routes: 404 `{"error":"not
 * found","code":"NOT_FOUND"}`, an `HttpApiError`'s or `QueryError`'s status with
 * `{"error","code"}`, and 500 `{"error":"internal error","code":"INTERNAL"}` for anything else
 * (its message is not sent).
 */
export function installJsonErrorHandlers<E extends Env>(app: Hono<E>): void {
  app.notFound((c) => c.json({ error: 'not found', code: 'NOT_FOUND' }, 404));
  app.onError((error, c) => {
    if (error instanceof HttpApiError || error instanceof QueryError) {
      return c.json({ error: error.shortMessage, code: error.code }, error.status as 400);
    }
    return c.json({ error: 'internal error', code: 'INTERNAL' }, 500);
  });
}
