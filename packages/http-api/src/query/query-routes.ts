import {
  QueryError,
  type QueryInput,
  type QueryService,
  queryResultJsonBytes,
} from '@synddb/query';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { HttpApiError } from '../errors';
import { clientAddress, refusalDelay } from '../limits/http-limits';
import type { ConnectionLimits } from '../serve/connection-limits';
import { queryGetSchema, queryRequestSchema, sequenceInputSchema } from './query-schemas';

/** The response header with the replica sequence an answer reflects. */
export const SEQUENCE_HEADER = 'X-SyndDB-Sequence';

/** `X-SyndDB-Sequence` value: the decimal sequence, or `none` before anything was applied. */
export const sequenceHeader = (sequence: bigint | null) =>
  sequence === null ? 'none' : sequence.toString();

// biome-ignore lint/suspicious/noExplicitAny: any hono env
type AnyHono = Hono<any>;

const invalid = (error: z.ZodError) =>
  new HttpApiError(400, 'INVALID_REQUEST', `invalid request: ${z.prettifyError(error)}`);

export interface QueryRoutesOptions {
  /**
   * A client whose connections hold more unread output than one result may take (`maxBytes`)
   * gets 429 `OUTPUT_BUSY` until it reads (see `ConnectionLimits.outputHeadroom`).
   */
  connectionLimits?: ConnectionLimits | undefined;
  /** The client's key for the query service's per-client caps. Default: the peer address. */
  clientKey?: ((c: Context) => string) | undefined;
  /**
   * A client refused for being over a per-client cap (429 `QUERY_CLIENT_BUSY`, `OUTPUT_BUSY`)
   * gets its answer after this long (see `refusalDelay`). Default 0.
   */
  refusalDelayMs?: number | undefined;
}

/** 429 `OUTPUT_BUSY`: the client's connections hold too much output it has not read. */
export function outputBusy(c: Context): Response {
  c.header('retry-after', '1');
  return c.json(
    { error: 'too much unread output on your connections; read it first', code: 'OUTPUT_BUSY' },
    429,
  );
}

/** `GET /query` and `POST /query` on `app`, answered by `service` (`@synddb/query`). */
export function registerQueryRoutes(
  app: AnyHono,
  service: QueryService,
  options: QueryRoutesOptions = {},
): void {
  const key = options.clientKey ?? clientAddress;
  const delayMs = options.refusalDelayMs ?? 0;
  const answer = async (c: Context, input: QueryInput) => {
    const client = key(c);
    const limits = options.connectionLimits;
    // Unread output at its cap: refuse before running anything.
    if (limits !== undefined && limits.outputHeadroom(client) <= 0) {
      await refusalDelay(c, delayMs);
      return outputBusy(c);
    }
    try {
      const result = await service.query({ ...input, client }, '/query');
      // The worker's rows bytes, spliced as they are: no string of them on this thread.
      const body = queryResultJsonBytes(result);
      // The result is built: write it only within the unread-output budgets.
      if (limits !== undefined && !limits.admitOutput(client, body.byteLength)) {
        return outputBusy(c);
      }
      return c.body(body, 200, {
        'content-type': 'application/json',
        [SEQUENCE_HEADER]: sequenceHeader(result.sequence),
      });
    } catch (error) {
      if (error instanceof QueryError) {
        if (error.code === 'QUERY_CLIENT_BUSY') await refusalDelay(c, delayMs);
        if (error.sequence !== null) c.header(SEQUENCE_HEADER, sequenceHeader(error.sequence));
        return c.json({ error: error.shortMessage, code: error.code }, error.status as 400);
      }
      throw error;
    }
  };

  app.post('/query', async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw new HttpApiError(400, 'INVALID_JSON', 'the body is not valid JSON');
    }
    const parsed = queryRequestSchema.safeParse(body);
    if (!parsed.success) throw invalid(parsed.error);
    const q = parsed.data;
    return answer(c, {
      sql: q.sql,
      params: q.params,
      minSequence: q.min_sequence,
      timeoutMs: q.timeout_ms,
    });
  });

  app.get('/query', async (c) => {
    const parsed = queryGetSchema.safeParse(c.req.query());
    if (!parsed.success) throw invalid(parsed.error);
    const q = parsed.data;
    let params: QueryInput['params'];
    if (q.params !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(q.params);
      } catch {
        throw new HttpApiError(400, 'INVALID_REQUEST', 'params must be JSON text');
      }
      const p = queryRequestSchema.shape.params.safeParse(raw);
      if (!p.success) throw invalid(p.error);
      params = p.data;
    }
    let minSequence: bigint | undefined;
    if (q.min_sequence !== undefined) {
      const s = sequenceInputSchema.safeParse(q.min_sequence);
      if (!s.success) throw invalid(s.error);
      minSequence = s.data;
    }
    return answer(c, {
      sql: q.sql,
      params,
      minSequence,
      timeoutMs: q.timeout_ms === undefined ? undefined : Math.max(1, Number(q.timeout_ms)),
    });
  });
}
