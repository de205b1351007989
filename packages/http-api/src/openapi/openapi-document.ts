import { z } from 'zod';
import {
  errorResponseSchema,
  queryGetSchema,
  queryRequestSchema,
  queryResponseSchema,
} from '../query/query-schemas';
import { RPC_METHODS, rpcBodySchema, rpcRequestSchema, rpcResponseSchema } from '../rpc/json-rpc';

/** `GET /status` body (documentation only; the server builds it in `statusToJson`). */
export const statusResponseSchema = z
  .object({
    running: z.boolean(),
    last_sequence: z.union([z.number(), z.string()]).nullable(),
    last_sync_time: z.number().describe('Unix seconds of the last commit, 0 if never.'),
    next_sequence: z.union([z.number(), z.string()]),
    state: z.enum(['starting', 'syncing', 'caught_up', 'halted', 'stopped']),
    head_sequence: z.union([z.number(), z.string()]).nullable(),
    lag_sequences: z.union([z.number(), z.string()]),
    lag_seconds: z.number(),
    last_timestamp: z.union([z.number(), z.string()]).nullable(),
    messages_applied: z.number(),
    synced_once: z.boolean(),
    ready: z.boolean(),
    halt: z
      .object({
        code: z.string(),
        kind: z.string(),
        message: z.string(),
        sequence: z.union([z.number(), z.string()]),
        since_ms: z.number(),
        retries: z.number(),
      })
      .nullable(),
    skipped_gaps: z.array(
      z.object({
        start: z.union([z.number(), z.string()]),
        end: z.union([z.number(), z.string()]),
        reason: z.string(),
        detected_at_ms: z.number(),
      }),
    ),
  })
  .meta({ id: 'Status' });

const healthSchema = z
  .object({ status: z.literal('healthy'), running: z.boolean() })
  .meta({ id: 'Health' });
const readySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    running: z.boolean(),
    reasons: z.array(z.string()),
  })
  .meta({ id: 'Ready' });

export interface OpenApiOptions {
  title?: string;
  version?: string;
  /** Whether /query and /rpc's synddb_query are served. */
  queries: boolean;
}

type Json = Record<string, unknown>;

const idOf = (schema: z.ZodType): string => {
  const id = (schema.meta() as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string') throw new TypeError('documented schemas need an id');
  return id;
};

/**
 * The OpenAPI 3.1 document of the validator API. Request schemas are the zod schemas the routes
 * validate with, converted by `z.toJSONSchema` (input side), so the document cannot drift.
 */
export function buildOpenApiDocument(options: OpenApiOptions): Json {
  const schemas: Json = {};
  const convert = (io: 'input' | 'output', list: z.ZodType[]) => {
    const registry = z.registry<{ id: string }>();
    for (const schema of list) registry.add(schema, { id: idOf(schema) });
    const out = z.toJSONSchema(registry, {
      io,
      uri: (id) => `#/components/schemas/${id}`,
      unrepresentable: 'any',
    }).schemas as Record<string, Json>;
    for (const [id, json] of Object.entries(out)) {
      delete json.$schema;
      delete json.$id;
      schemas[id] = json;
    }
  };
  convert('input', [queryRequestSchema, rpcBodySchema, rpcRequestSchema]);
  convert('output', [
    queryResponseSchema,
    errorResponseSchema,
    rpcResponseSchema,
    statusResponseSchema,
    healthSchema,
    readySchema,
  ]);
  const ref = (schema: z.ZodType, _io?: 'input' | 'output'): Json => ({
    $ref: `#/components/schemas/${idOf(schema)}`,
  });
  const jsonContent = (schema: z.ZodType, io: 'input' | 'output' = 'output') => ({
    'application/json': { schema: ref(schema, io) },
  });
  const error = (description: string) => ({
    description,
    content: jsonContent(errorResponseSchema),
  });
  const sequenceHeader = {
    'X-SyndDB-Sequence': {
      description: 'Replica sequence the rows reflect (decimal), or `none`.',
      schema: { type: 'string' },
    },
  };
  const limitErrors = {
    '413': error('Request body larger than MAX_BODY_BYTES.'),
    '429': {
      description: 'Rate limited; see Retry-After.',
      headers: { 'Retry-After': { schema: { type: 'integer' } } },
      content: jsonContent(errorResponseSchema),
    },
  };
  const queryResponses = {
    '200': {
      description: 'Rows and the sequence they reflect.',
      headers: sequenceHeader,
      content: jsonContent(queryResponseSchema),
    },
    '400': error('Invalid request or SQL error (INVALID_REQUEST, QUERY_SQL).'),
    '403': error(
      'Refused: not a single read statement, internal table, PRAGMA/function not allowed.',
    ),
    '422': error('Result over QUERY_MAX_ROWS or QUERY_MAX_BYTES.'),
    '503': error('Too many queries waiting, or queries unavailable.'),
    '504': error(
      'Statement interrupted (QUERY_TIMEOUT) or min_sequence not reached (MIN_SEQUENCE_TIMEOUT).',
    ),
    ...limitErrors,
  };

  const getQueryParams = Object.entries(queryGetSchema.shape).map(([name, schema]) => ({
    name,
    in: 'query',
    required: !schema.safeParse(undefined).success,
    description: schema.description,
    schema: z.toJSONSchema(schema, { io: 'input' }),
  }));
  for (const p of getQueryParams) delete (p.schema as Json).$schema;

  const paths: Json = {
    '/health': {
      get: {
        summary: 'Liveness',
        responses: { '200': { description: 'Always', content: jsonContent(healthSchema) } },
      },
    },
    '/healthz': {
      get: {
        summary: 'Liveness (alias)',
        responses: { '200': { description: 'Always', content: jsonContent(healthSchema) } },
      },
    },
    '/ready': {
      get: {
        summary: 'Readiness: running, not halted, caught up once, lag within MAX_LAG',
        responses: {
          '200': { description: 'Ready', content: jsonContent(readySchema) },
          '503': { description: 'Not ready', content: jsonContent(readySchema) },
        },
      },
    },
    '/status': {
      get: {
        summary: 'Sync status',
        responses: { '200': { description: 'Status', content: jsonContent(statusResponseSchema) } },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: {
          '200': {
            description: 'Text exposition',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: {
          '200': {
            description: 'OpenAPI 3.1',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
  };
  if (options.queries) {
    paths['/query'] = {
      get: {
        summary: 'Read query (simple form)',
        parameters: getQueryParams,
        responses: queryResponses,
      },
      post: {
        summary: 'Read query',
        requestBody: { required: true, content: jsonContent(queryRequestSchema, 'input') },
        responses: queryResponses,
      },
    };
  }
  paths['/rpc'] = {
    post: {
      summary: 'JSON-RPC 2.0 (single or batch)',
      description: `Methods: ${Object.entries(RPC_METHODS)
        .filter(([m]) => options.queries || m !== 'synddb_query')
        .map(([m, d]) => `\`${m}\`: ${d}`)
        .join(
          ' ',
        )} Errors: -32700 parse, -32600 invalid request, -32601 method not found, -32602 invalid params, -32603 internal, -32000 query refused, -32001 query timeout, -32002 min_sequence timeout, -32003 result limit, -32004 SQL error, -32005 unavailable/busy.`,
      requestBody: { required: true, content: jsonContent(rpcBodySchema, 'input') },
      responses: {
        '200': {
          description: 'One response, or an array for a batch.',
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  ref(rpcResponseSchema, 'output'),
                  { type: 'array', items: ref(rpcResponseSchema, 'output') },
                ],
              },
            },
          },
        },
        '204': { description: 'Only notifications were sent.' },
        ...limitErrors,
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'SyndDB validator API',
      version: options.version ?? '0.1.0',
    },
    paths,
    components: { schemas },
  };
}
