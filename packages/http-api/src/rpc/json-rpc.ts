import {
  QueryError,
  type QueryResult,
  type QueryService,
  queryResultJsonBytes,
} from '@synddb/query';
import { z } from 'zod';
import { queryParamsSchema, queryRequestSchema } from '../query/query-schemas';

/** JSON-RPC 2.0 error codes (spec §5.1) and this server's own (-32000..-32099). */
export const RPC_ERRORS = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** Refused: not a read, internal table, PRAGMA/function not allowed, several statements. */
  QUERY_REFUSED: -32000,
  QUERY_TIMEOUT: -32001,
  MIN_SEQUENCE_TIMEOUT: -32002,
  QUERY_LIMIT: -32003,
  QUERY_SQL: -32004,
  QUERY_UNAVAILABLE: -32005,
  /** A batch member over the client's rate limit (each member takes a token). */
  RATE_LIMITED: -32006,
} as const;

/** Most requests in one batch. */
export const MAX_RPC_BATCH = 100;

const rpcId = z.union([z.string().max(256), z.number(), z.null()]);

/** One JSON-RPC request object, as validated. */
export const rpcRequestSchema = z
  .strictObject({
    jsonrpc: z.literal('2.0'),
    method: z.string().min(1).max(256),
    params: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
    id: rpcId.optional().describe('Absent for a notification (no response).'),
  })
  .meta({ id: 'JsonRpcRequest' });

/** `POST /rpc` body: one request or a batch. */
export const rpcBodySchema = z
  .union([rpcRequestSchema, z.array(rpcRequestSchema).min(1).max(MAX_RPC_BATCH)])
  .meta({ id: 'JsonRpcBody' });

/** `synddb_query` params: the `/query` body as an object, or `[sql, params?]`. */
export const rpcQueryParamsSchema = z.union([
  queryRequestSchema,
  z
    .tuple([queryRequestSchema.shape.sql, queryParamsSchema.optional()])
    .transform(([sql, params]) => ({ sql, params })),
]);

export const rpcResponseSchema = z
  .object({
    jsonrpc: z.literal('2.0'),
    id: rpcId,
    result: z.unknown().optional(),
    error: z
      .object({
        code: z.number().int(),
        message: z.string(),
        data: z
          .object({
            code: z.string().optional(),
            sequence: z.union([z.number(), z.string(), z.null()]).optional(),
          })
          .loose()
          .optional(),
      })
      .optional(),
  })
  .meta({ id: 'JsonRpcResponse' });

/** The methods and their descriptions (for `/openapi.json`). */
export const RPC_METHODS = {
  synddb_query:
    'Read query: params as the POST /query body ({sql, params?, min_sequence?, timeout_ms?}) or [sql, params?]; result {columns, rows, sequence}.',
  synddb_status: 'The GET /status body.',
} as const;

export interface RpcContext {
  query?: QueryService | undefined;
  /** The `/status` body. */
  status(): unknown;
  /** Called with each query result (e.g. to expose the sequence). */
  onQuery?: ((result: QueryResult) => void) | undefined;
  /** Who asks (the peer address): keys the query service's per-client caps. */
  client?: string | undefined;
  /**
   * Bytes the whole response may take (every member's result together). Members past it answer
   * `QUERY_LIMIT` errors. Default: the query service's `maxBytes`.
   */
  maxResponseBytes?: number | undefined;
  /**
   * Takes one rate-limit token for a batch member beyond the first (the request took one);
   * false: that member answers `RATE_LIMITED`. Default: no limit.
   */
  takeToken?: (() => boolean) | undefined;
}

/** The state one request or batch shares: its response budget and its deadline. */
interface Budget {
  bytesLeft: number;
  /** performance.now() after which query members time out. */
  deadline: number;
}

type Id = string | number | null;

const errorJson = (id: Id, code: number, message: string, data?: unknown) =>
  Buffer.from(
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      error: data === undefined ? { code, message } : { code, message, data },
    }),
  );

/** A member's response around its raw result (a query's rows bytes are never decoded here). */
const resultJson = (id: Id, rawResult: string | Uint8Array) =>
  Buffer.concat([
    Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`),
    typeof rawResult === 'string' ? Buffer.from(rawResult) : rawResult,
    CLOSE_BRACE,
  ]);

const CLOSE_BRACE = Buffer.from('}');
const COMMA = Buffer.from(',');

/**
 * Answers a JSON-RPC 2.0 body (single or batch). Returns the response (UTF-8 JSON bytes), or null
 * when every request was a notification (nothing to send). A batch is one request as far as cost goes: its
 * members run one after another within one response budget (`maxResponseBytes`) and one time
 * limit (the query service's `timeoutMs`), and each member beyond the first takes a rate-limit
 * token, so a small batch cannot make this process build a response larger than one query's,
 * nor cost one token for many queries. Responses come in request order.
 */
export async function handleJsonRpc(
  body: string,
  ctx: RpcContext,
): Promise<Buffer<ArrayBuffer> | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorJson(null, RPC_ERRORS.PARSE_ERROR, 'parse error');
  }
  const budget: Budget = {
    bytesLeft: ctx.maxResponseBytes ?? ctx.query?.limits.maxBytes ?? 8 * 1024 * 1024,
    deadline: performance.now() + (ctx.query?.limits.timeoutMs ?? 5000),
  };
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return errorJson(null, RPC_ERRORS.INVALID_REQUEST, 'empty batch');
    if (parsed.length > MAX_RPC_BATCH) {
      return errorJson(null, RPC_ERRORS.INVALID_REQUEST, `batch larger than ${MAX_RPC_BATCH}`);
    }
    const present: Buffer<ArrayBuffer>[] = [];
    for (let i = 0; i < parsed.length; i++) {
      const answer =
        i > 0 && ctx.takeToken !== undefined && !ctx.takeToken()
          ? rateLimited(parsed[i])
          : await handleOne(parsed[i], ctx, budget);
      if (answer !== null) present.push(answer);
    }
    if (present.length === 0) return null;
    const parts: Buffer<ArrayBuffer>[] = [Buffer.from('[')];
    for (let i = 0; i < present.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(present[i]!);
    }
    parts.push(Buffer.from(']'));
    return Buffer.concat(parts);
  }
  return handleOne(parsed, ctx, budget);
}

/** The id of a raw member, when it is a valid one. */
const rawIdOf = (request: unknown): Id => {
  const rawId = (request as { id?: unknown } | null)?.id;
  return rpcId.safeParse(rawId).success ? ((rawId ?? null) as Id) : null;
};

function rateLimited(request: unknown): Buffer<ArrayBuffer> | null {
  const checked = rpcRequestSchema.safeParse(request);
  if (checked.success && (!('id' in checked.data) || checked.data.id === undefined)) return null;
  return errorJson(rawIdOf(request), RPC_ERRORS.RATE_LIMITED, 'rate limit exceeded', {
    code: 'RATE_LIMITED',
  });
}

async function handleOne(
  request: unknown,
  ctx: RpcContext,
  budget: Budget,
): Promise<Buffer<ArrayBuffer> | null> {
  const checked = rpcRequestSchema.safeParse(request);
  if (!checked.success) {
    const rawId = (request as { id?: unknown } | null)?.id;
    const id = rpcId.safeParse(rawId).success ? (rawId as Id) : null;
    return errorJson(id, RPC_ERRORS.INVALID_REQUEST, 'invalid request', {
      issues: z.prettifyError(checked.error),
    });
  }
  const { method, params } = checked.data;
  const notification = !('id' in checked.data) || checked.data.id === undefined;
  const id: Id = checked.data.id ?? null;
  const answer = await call(method, params, ctx, budget).catch((error: unknown) => error);
  if (notification) return null;
  if (typeof answer === 'string' || answer instanceof Uint8Array) {
    const text = resultJson(id, answer);
    if (text.byteLength > budget.bytesLeft) {
      return errorJson(id, RPC_ERRORS.QUERY_LIMIT, 'the batch response budget is exhausted', {
        code: 'QUERY_SIZE_LIMIT',
      });
    }
    budget.bytesLeft -= text.byteLength;
    return text;
  }
  if (answer instanceof RpcFailure) return errorJson(id, answer.code, answer.message, answer.data);
  if (answer instanceof QueryError) {
    return errorJson(id, answer.rpcCode, answer.shortMessage, {
      code: answer.code,
      sequence: answer.sequence === null ? null : answer.sequence.toString(),
    });
  }
  return errorJson(id, RPC_ERRORS.INTERNAL_ERROR, 'internal error');
}

class RpcFailure {
  constructor(
    readonly code: number,
    readonly message: string,
    readonly data?: unknown,
  ) {}
}

/** Runs a method; resolves with the JSON text of its result. */
async function call(
  method: string,
  params: unknown,
  ctx: RpcContext,
  budget: Budget,
): Promise<string | Uint8Array> {
  switch (method) {
    case 'synddb_query': {
      if (ctx.query === undefined) {
        throw new RpcFailure(RPC_ERRORS.METHOD_NOT_FOUND, 'method not found: queries are disabled');
      }
      const p = rpcQueryParamsSchema.safeParse(params);
      if (!p.success) {
        throw new RpcFailure(RPC_ERRORS.INVALID_PARAMS, 'invalid params', {
          issues: z.prettifyError(p.error),
        });
      }
      const q = p.data as z.output<typeof queryRequestSchema>;
      const timeLeft = Math.floor(budget.deadline - performance.now());
      // Room for the envelope: a member's rows get what is left of the batch's budget.
      const bytesLeft = budget.bytesLeft - 256;
      if (timeLeft < 1 || bytesLeft < 2) {
        throw new QueryError(
          timeLeft < 1 ? 'QUERY_TIMEOUT' : 'QUERY_SIZE_LIMIT',
          timeLeft < 1
            ? 'the batch used up its time limit'
            : 'the batch response budget is exhausted',
        );
      }
      const result = await ctx.query.query(
        {
          sql: q.sql,
          params: q.params,
          minSequence: q.min_sequence,
          timeoutMs: Math.min(q.timeout_ms ?? timeLeft, timeLeft),
          maxBytes: bytesLeft,
          client: ctx.client,
        },
        'synddb_query',
      );
      ctx.onQuery?.(result);
      return queryResultJsonBytes(result);
    }
    case 'synddb_status': {
      if (
        params !== undefined &&
        (Array.isArray(params) ? params.length : Object.keys(params as object).length)
      ) {
        throw new RpcFailure(RPC_ERRORS.INVALID_PARAMS, 'synddb_status takes no params');
      }
      return JSON.stringify(ctx.status());
    }
    default:
      throw new RpcFailure(RPC_ERRORS.METHOD_NOT_FOUND, `method not found: ${method.slice(0, 64)}`);
  }
}
