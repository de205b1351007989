import { z } from 'zod';

/** Longest `sql` text accepted (characters). */
export const MAX_SQL_LENGTH = 100_000;
/** Most bound parameters per statement (SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766). */
export const MAX_PARAMS = 1000;
/** Upper bound of a request's `timeout_ms` (the server's own limit applies below it). */
export const MAX_TIMEOUT_MS = 3_600_000;

const U64_MAX = 2n ** 64n - 1n;

/** A bound parameter: integers that are safe JS numbers bind as INTEGER, other numbers as REAL. */
export const sqlParamSchema = z
  .union([z.string(), z.number(), z.boolean(), z.null()])
  .describe(
    'A bound value. Whole numbers bind as INTEGER, other numbers as REAL, booleans as 1/0. Pass larger integers as strings (CAST(? AS INTEGER)) and blobs as hex (unhex(?)).',
  );

export const queryParamsSchema = z
  .union([
    z.array(sqlParamSchema).max(MAX_PARAMS),
    z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/), sqlParamSchema),
  ])
  .describe(
    'Positional values for ?/?NNN, or named values for :name/@name/$name (keys without the prefix).',
  );

/** A sequence as a JSON number or a decimal string (u64). */
export const sequenceInputSchema = z
  .union([
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    z.string().regex(/^\d{1,20}$/),
  ])
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n > U64_MAX) {
      ctx.addIssue({ code: 'custom', message: 'must be at most 2^64-1' });
      return z.NEVER;
    }
    return n;
  })
  .describe('A sequence number: a JSON integer, or a decimal string for values beyond 2^53-1.');

const minSequence = sequenceInputSchema.describe(
  'Answer only from a replica at or beyond this sequence: wait for it (bounded by the server), else 504 MIN_SEQUENCE_TIMEOUT.',
);
const timeoutMs = z
  .number()
  .int()
  .min(1)
  .max(MAX_TIMEOUT_MS)
  .describe("Time limit of the statement in ms; the server's QUERY_TIMEOUT caps it.");
const sql = z
  .string()
  .min(1)
  .max(MAX_SQL_LENGTH)
  .describe('Exactly one read statement (SELECT, WITH ... SELECT, VALUES, schema PRAGMAs).');

/** `POST /query` body, and the `synddb_query` JSON-RPC params object. */
export const queryRequestSchema = z
  .strictObject({
    sql,
    params: queryParamsSchema.optional(),
    min_sequence: minSequence.optional(),
    timeout_ms: timeoutMs.optional(),
  })
  .meta({ id: 'QueryRequest', description: 'A read query.' });

export type QueryRequest = z.output<typeof queryRequestSchema>;

/** `GET /query` search parameters. */
export const queryGetSchema = z
  .strictObject({
    sql,
    params: z
      .string()
      .max(MAX_SQL_LENGTH)
      .optional()
      .describe('JSON text of the params array or object, e.g. [1,"a"].'),
    min_sequence: z
      .string()
      .regex(/^\d{1,20}$/)
      .optional()
      .describe(minSequence.description ?? ''),
    timeout_ms: z
      .string()
      .regex(/^\d{1,7}$/)
      .optional()
      .describe(timeoutMs.description ?? ''),
  })
  .meta({ id: 'QueryGetParameters' });

const jsonInteger = z
  .union([z.number().int(), z.string().regex(/^-?\d+$/)])
  .describe('An integer: a JSON number within ±(2^53-1), else a decimal string.');

export const sqlValueSchema = z
  .union([z.number(), z.string(), z.null()])
  .describe(
    'A SQLite value: INTEGER as a number (a decimal string beyond ±(2^53-1)), REAL as a number (±Infinity as strings), TEXT as a string, BLOB as 0x-prefixed lowercase hex, NULL as null.',
  );

export const queryResponseSchema = z
  .object({
    columns: z.array(z.string()).describe('Column names, in order.'),
    rows: z.array(z.array(sqlValueSchema)).describe('Rows as arrays, in column order.'),
    sequence: jsonInteger
      .nullable()
      .describe(
        'The replica sequence the rows reflect (read in the same transaction); null before anything was applied.',
      ),
  })
  .meta({ id: 'QueryResponse' });

export const errorResponseSchema = z
  .object({
    error: z.string().describe('Human-readable message.'),
    code: z.string().describe('Stable error code, e.g. QUERY_READ_ONLY, QUERY_TIMEOUT.'),
  })
  .meta({ id: 'ErrorResponse' });
