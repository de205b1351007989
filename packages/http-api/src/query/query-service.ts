import { Histogram, type Registry } from 'prom-client';
import { z } from 'zod';
import { HttpApiConfigError } from '../errors';
import { DURATION_BUCKETS } from '../metrics/create-validator-metrics';
import { jsonIntegerOrNull } from '../status/json-integer';
import { isQueryErrorCode, QueryError, type QueryErrorCode } from './query-errors';
import { createQueryPool, type QueryPool, type WorkerResult } from './query-pool';

/**
 * Where the replica is: the last applied sequence and a signal when it moves. The sync engine
 * fits (`status().lastSequence`, `'applied'` / `'snapshot'` events); see `sequenceSourceFromEngine`.
 */
export interface SequenceSource {
  lastSequence(): bigint | null;
  /** Calls `listener` after each commit; returns an unsubscribe function. */
  onApplied(listener: () => void): () => void;
}

export interface QueryServiceOptions {
  /** The replica file. Workers open it read-only; it must exist. */
  databasePath: string;
  /** Worker processes (each with its own read-only connection). Default 2. */
  workers?: number | undefined;
  /** Most rows in one result. Default 10 000. */
  maxRows?: number | undefined;
  /** Largest result (bytes of the JSON rows). Default 8 MiB. */
  maxBytes?: number | undefined;
  /** Time limit of a statement (queue wait included), ms. Requests may ask for less. Default 5000. */
  timeoutMs?: number | undefined;
  /** Longest wait for `min_sequence`, ms. Default 10 000. */
  minSequenceMaxWaitMs?: number | undefined;
  /** Replica position for `min_sequence` waits; without it the service polls. */
  sequence?: SequenceSource | undefined;
  /** Registers `synddb_query_latency_seconds{endpoint,outcome}` here (reused if it exists). */
  registry?: Registry | undefined;
  /** Requests waiting for a worker beyond this many get `QUERY_BUSY`. Default 256. */
  maxQueue?: number | undefined;
  /** SQLite busy timeout of worker connections. Default 5000 ms. */
  busyTimeoutMs?: number | undefined;
  workerUrl?: URL | undefined;
  onWorkerExit?: ((info: { reason: 'timeout' | 'crash'; detail: string }) => void) | undefined;
}

export interface QueryInput {
  sql: string;
  params?: readonly unknown[] | Record<string, unknown> | undefined;
  minSequence?: bigint | undefined;
  timeoutMs?: number | undefined;
}

export interface QueryResult {
  columns: string[];
  /** JSON text of the rows (array of arrays). */
  rowsJson: string;
  rowCount: number;
  /** The replica sequence the rows reflect; null when nothing was applied yet. */
  sequence: bigint | null;
}

export interface QueryLimits {
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
  minSequenceMaxWaitMs: number;
  workers: number;
}

export interface QueryService {
  readonly limits: QueryLimits;
  readonly pool: QueryPool;
  /** Resolves when every worker has opened the replica. */
  ready(): Promise<void>;
  /** Runs one read statement; rejects with `QueryError`. `endpoint` labels the latency metric. */
  query(input: QueryInput, endpoint?: string): Promise<QueryResult>;
  close(): Promise<void>;
}

const limitsSchema = z.object({
  workers: z.number().int().min(1).max(64),
  maxRows: z.number().int().min(1).max(10_000_000),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 ** 3),
  timeoutMs: z.number().int().min(1).max(3_600_000),
  minSequenceMaxWaitMs: z.number().int().min(0).max(3_600_000),
});

export const QUERY_LATENCY_METRIC = 'synddb_query_latency_seconds';

/**
 * `synddb_query_latency_seconds{endpoint,outcome}` (the one `createValidatorMetrics` registers, when
 * present): endpoint `/query` or the JSON-RPC method; outcome `ok`, `client_error`, `server_error`
 * or `timeout`.
 */
export function queryLatencyHistogram(registry: Registry): Histogram<'endpoint' | 'outcome'> {
  const existing = registry.getSingleMetric(QUERY_LATENCY_METRIC);
  if (existing !== undefined) return existing as Histogram<'endpoint' | 'outcome'>;
  return new Histogram({
    name: QUERY_LATENCY_METRIC,
    help: 'Read query latency (min_sequence wait, queue and statement), by endpoint and outcome',
    labelNames: ['endpoint', 'outcome'],
    buckets: [0.0005, ...DURATION_BUCKETS],
    registers: [registry],
  });
}

/**
 * Read queries on the replica: a pool of worker processes with read-only, authorizer-guarded
 * connections, limits on rows, bytes and time, and `min_sequence` waits.
 */
export function createQueryService(options: QueryServiceOptions): QueryService {
  const parsed = limitsSchema.safeParse({
    workers: options.workers ?? 2,
    maxRows: options.maxRows ?? 10_000,
    maxBytes: options.maxBytes ?? 8 * 1024 * 1024,
    timeoutMs: options.timeoutMs ?? 5000,
    minSequenceMaxWaitMs: options.minSequenceMaxWaitMs ?? 10_000,
  });
  if (!parsed.success) {
    throw new HttpApiConfigError('invalid query service options', z.prettifyError(parsed.error));
  }
  const limits: QueryLimits = parsed.data;
  const pool = createQueryPool({
    databasePath: options.databasePath,
    size: limits.workers,
    busyTimeoutMs: options.busyTimeoutMs,
    maxQueue: options.maxQueue,
    workerUrl: options.workerUrl,
    onWorkerExit: options.onWorkerExit,
  });
  const latency = options.registry ? queryLatencyHistogram(options.registry) : undefined;
  const source = options.sequence;

  /** Resolves true once the source reports `min` (or moves, when `anyMove`), false at `deadline`. */
  const waitForSequence = (min: bigint, deadline: number): Promise<boolean> =>
    new Promise((resolve) => {
      const reached = () => {
        const last = source?.lastSequence() ?? null;
        return last !== null && last >= min;
      };
      if (source !== undefined && reached()) return resolve(true);
      const remaining = deadline - performance.now();
      if (remaining <= 0) return resolve(false);
      let done = false;
      const finish = (value: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        unsubscribe();
        resolve(value);
      };
      const check = () => {
        if (source === undefined || reached()) finish(true);
      };
      const unsubscribe = source?.onApplied(check) ?? (() => {});
      // Without a source (or if an event is missed) poll: the worker re-checks in its snapshot.
      const poll = setInterval(() => finish(true), source === undefined ? 25 : 250);
      const timer = setTimeout(() => finish(false), remaining);
    });

  const run = async (input: QueryInput): Promise<QueryResult> => {
    const started = performance.now();
    const timeoutMs = Math.min(input.timeoutMs ?? limits.timeoutMs, limits.timeoutMs);
    const min = input.minSequence;
    const waitDeadline =
      started + Math.min(limits.minSequenceMaxWaitMs, input.timeoutMs ?? Number.POSITIVE_INFINITY);
    const request = {
      sql: input.sql,
      params: input.params ?? null,
      minSequence: min === undefined ? null : min.toString(),
      maxRows: limits.maxRows,
      maxBytes: limits.maxBytes,
    };
    for (;;) {
      if (
        min !== undefined &&
        source !== undefined &&
        !(await waitForSequence(min, waitDeadline))
      ) {
        throw minSequenceTimeout(min, source.lastSequence());
      }
      const result: WorkerResult = await pool.run(request, performance.now() + timeoutMs);
      if ('behind' in result) {
        const seen = result.sequence === null ? null : BigInt(result.sequence);
        const remaining = waitDeadline - performance.now();
        if (remaining <= 0) throw minSequenceTimeout(min ?? 0n, seen);
        // The source said reached (or there is none): give the commit a moment to be visible.
        await new Promise((r) => setTimeout(r, Math.min(source === undefined ? 25 : 5, remaining)));
        continue;
      }
      if (!result.ok) {
        const code: QueryErrorCode = isQueryErrorCode(result.code) ? result.code : 'QUERY_INTERNAL';
        throw new QueryError(code, result.message, {
          sequence: result.sequence === null ? null : BigInt(result.sequence),
        });
      }
      return {
        columns: result.columns,
        rowsJson: result.rowsJson,
        rowCount: result.rowCount,
        sequence: result.sequence === null ? null : BigInt(result.sequence),
      };
    }
  };

  return {
    limits,
    pool,
    ready: () => pool.ready(),
    async query(input, endpoint = '/query') {
      const started = performance.now();
      let outcome = 'ok';
      try {
        return await run(input);
      } catch (error) {
        outcome = !(error instanceof QueryError)
          ? 'server_error'
          : error.code === 'QUERY_TIMEOUT' || error.code === 'MIN_SEQUENCE_TIMEOUT'
            ? 'timeout'
            : error.status >= 500
              ? 'server_error'
              : 'client_error';
        throw error;
      } finally {
        latency?.observe({ endpoint, outcome }, (performance.now() - started) / 1000);
      }
    },
    close: () => pool.close(),
  };
}

function minSequenceTimeout(min: bigint, seen: bigint | null): QueryError {
  return new QueryError(
    'MIN_SEQUENCE_TIMEOUT',
    `the replica did not reach sequence ${min} in time (at ${seen ?? 'none'})`,
    { sequence: seen },
  );
}

/** The JSON body of a query result: `{"columns":[...],"rows":[...],"sequence":N}`. */
export function queryResultJson(result: QueryResult): string {
  return `{"columns":${JSON.stringify(result.columns)},"rows":${result.rowsJson},"sequence":${JSON.stringify(jsonIntegerOrNull(result.sequence))}}`;
}

/** `X-SyndDB-Sequence` value: the decimal sequence, or `none` before anything was applied. */
export const sequenceHeader = (sequence: bigint | null) =>
  sequence === null ? 'none' : sequence.toString();

/** A `SequenceSource` over an engine with `status()` and `'applied'`/`'snapshot'` events. */
export function sequenceSourceFromEngine(engine: {
  status(): { lastSequence: bigint | null };
  on(event: 'applied' | 'snapshot', listener: () => void): unknown;
  off(event: 'applied' | 'snapshot', listener: () => void): unknown;
}): SequenceSource {
  return {
    lastSequence: () => engine.status().lastSequence,
    onApplied(listener) {
      engine.on('applied', listener);
      engine.on('snapshot', listener);
      return () => {
        engine.off('applied', listener);
        engine.off('snapshot', listener);
      };
    },
  };
}
