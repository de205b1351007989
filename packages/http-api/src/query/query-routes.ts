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

/** A response as plain data: the Hono routes and the server's `POST /query` fast path send it. */
export interface PlainResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

const jsonError = (status: number, error: string, code: string, headers = {}): PlainResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ error, code }),
});

/** A `QueryError` or `HttpApiError` as the JSON answer the API gives it. */
export function plainErrorResponse(error: QueryError | HttpApiError): PlainResponse {
  const headers: Record<string, string> = {};
  if (error instanceof QueryError && error.sequence !== null) {
    headers[SEQUENCE_HEADER_LOWER] = sequenceHeader(error.sequence);
  }
  return jsonError(error.status, error.shortMessage, error.code, headers);
}

const SEQUENCE_HEADER_LOWER = SEQUENCE_HEADER.toLowerCase();

/** 429 `OUTPUT_BUSY` as plain data. */
export const OUTPUT_BUSY_RESPONSE: PlainResponse = jsonError(
  429,
  'too much unread output on your connections; read it first',
  'OUTPUT_BUSY',
  { 'retry-after': '1' },
);

/**
 * A `POST /query` body (JSON text) as the query service's input; throws `HttpApiError` 400
 * (`INVALID_JSON`, `INVALID_REQUEST`).
 */
export function parseQueryPostBody(text: string): QueryInput {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpApiError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
  const parsed = queryRequestSchema.safeParse(body);
  if (!parsed.success) throw invalid(parsed.error);
  const q = parsed.data;
  return { sql: q.sql, params: q.params, minSequence: q.min_sequence, timeoutMs: q.timeout_ms };
}

/**
 * Runs a query for `client` and builds its answer: the result, or the JSON error of a
 * `QueryError`; 429 `OUTPUT_BUSY` (after `refusalDelay`) when the client's unread output is at its
 * cap. Other errors are thrown (500).
 */
export async function answerQuery(
  service: QueryService,
  input: QueryInput,
  client: string,
  connectionLimits: ConnectionLimits | undefined,
  refusalDelay: () => Promise<void>,
): Promise<PlainResponse> {
  // Unread output at its cap: refuse before running anything.
  if (connectionLimits !== undefined && connectionLimits.outputHeadroom(client) <= 0) {
    await refusalDelay();
    return OUTPUT_BUSY_RESPONSE;
  }
  try {
    const result = await service.query({ ...input, client }, '/query');
    // The worker's rows bytes, spliced as they are: no string of them on this thread.
    const body = queryResultJsonBytes(result);
    // The result is built: write it only within the unread-output budgets.
    if (connectionLimits !== undefined && !connectionLimits.admitOutput(client, body.byteLength)) {
      return OUTPUT_BUSY_RESPONSE;
    }
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        [SEQUENCE_HEADER_LOWER]: sequenceHeader(result.sequence),
      },
      body,
    };
  } catch (error) {
    if (error instanceof QueryError) {
      if (error.code === 'QUERY_CLIENT_BUSY') await refusalDelay();
      return plainErrorResponse(error);
    }
    throw error;
  }
}

/** Sends a `PlainResponse` through Hono's context. */
export function sendPlain(c: Context, response: PlainResponse): Response {
  return c.body(
    typeof response.body === 'string' ? response.body : (response.body as Uint8Array<ArrayBuffer>),
    response.status as 200,
    response.headers,
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
  const answer = async (c: Context, input: QueryInput) =>
    sendPlain(
      c,
      await answerQuery(service, input, key(c), options.connectionLimits, () =>
        refusalDelay(c, delayMs),
      ),
    );

  app.post('/query', async (c) => answer(c, parseQueryPostBody(await c.req.text())));

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
