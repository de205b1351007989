import type { Registry } from 'prom-client';
import { z } from 'zod';
import { isQueryErrorCode, QueryConfigError, QueryError, type QueryErrorCode } from './errors';
import { PointReads, type PointReadsOptions } from './point-reads';
import { createQueryMetrics, type QueryMetrics, type QueryOutcome } from './query-metrics';
import { createQueryPool, type QueryPool, type WorkerExitReason } from './query-pool';
import { createSequenceWaiters, type SequenceSource } from './sequence-source';
import type { WorkerLauncher } from './worker-launcher';
import type { WorkerRequest, WorkerResult } from './worker-protocol';

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
  /** Where `synddb_query_latency_seconds` is recorded (e.g. the validator's metrics). */
  metrics?: QueryMetrics | undefined;
  /** Alternatively: registers the query metrics here (reused if they exist). */
  registry?: Registry | undefined;
  /** Requests waiting for a worker beyond this many get `QUERY_BUSY`. Default 256. */
  maxQueue?: number | undefined;
  /**
   * Queries one client (`QueryInput.client`, e.g. the peer address) may have in flight: running,
   * queued or waiting for `min_sequence`. More get 429 `QUERY_CLIENT_BUSY`. Default 32; 0 = no cap.
   */
  maxInFlightPerClient?: number | undefined;
  /** `min_sequence` waits pending at once (all clients); more get `QUERY_BUSY`. Default 4096. */
  maxSequenceWaits?: number | undefined;
  /** Workers one client may occupy at once (see `QueryPoolOptions`). Default: all but one. */
  maxWorkersPerClient?: number | undefined;
  /**
   * Shortest run before a statement is interrupted by killing its worker, whatever `timeout_ms`
   * asked (the request is still answered at its own deadline). Default 1000 ms.
   */
  interruptFloorMs?: number | undefined;
  /** SQLite busy timeout of worker connections. Default 5000 ms. */
  busyTimeoutMs?: number | undefined;
  /** Location of the worker module, for bundlers that move it (see `queryWorkerLocation`). */
  workerUrl?: URL | undefined;
  /** Called when a worker is killed (time limit) or dies, e.g. for logs. */
  onWorkerExit?: ((info: { reason: WorkerExitReason; detail: string }) => void) | undefined;
  /**
   * Starts the worker processes (tests wrap it to inject failed starts). Default: a spawner
   * process of the pool's own (`createWorkerLauncher`), so this process never forks after start.
   */
  launcher?: WorkerLauncher | undefined;
  /**
   * Point reads on the calling thread (needs the optional peer `better-sqlite3`): a statement a
   * worker has answered once, whose compiled program reads at most one row by key, is then
   * answered on a read-only connection of this thread, without a worker round trip (see
   * point-reads.ts for the rules that keep it bounded). Only where this process has no
   * node:sqlite connection to the replica. Default off.
   */
  pointReads?: boolean | PointReadsOptions | undefined;
}

export interface QueryInput {
  /** Exactly one read statement. */
  sql: string;
  /** Values for `?`/`?NNN` (array) or `:name`/`@name`/`$name` (object, keys without the prefix). */
  params?: readonly unknown[] | Record<string, unknown> | undefined;
  /** Answer only from a replica at or beyond this sequence (wait for it, bounded). */
  minSequence?: bigint | undefined;
  /** Time limit of this query, ms; the service's `timeoutMs` caps it. */
  timeoutMs?: number | undefined;
  /** Largest result of this query (JSON bytes of the rows); the service's `maxBytes` caps it. */
  maxBytes?: number | undefined;
  /** Who asks (e.g. the peer address): keys the per-client in-flight and worker caps. */
  client?: string | undefined;
}

export interface QueryResult {
  columns: string[];
  /**
   * JSON text of the rows (array of arrays), UTF-8, as the worker wrote it: a server splices it
   * into its response as is (`queryResultJsonBytes`), with no decoding on this thread.
   */
  rowsJsonBytes: Uint8Array;
  /** The same text as a string (decoded on first use). */
  readonly rowsJson: string;
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
  maxInFlightPerClient: number;
}

export interface QueryService {
  readonly limits: QueryLimits;
  readonly pool: QueryPool;
  /**
   * Resolves when every worker (a killed worker's replacement included) has opened the replica;
   * rejects with `QUERY_UNAVAILABLE` when one cannot, or once closed.
   */
  ready(): Promise<void>;
  /** Workers able to answer now; 0 means every query fails (readiness should say so). */
  readonly available: number;
  /** Queries answered on this thread by point reads (`pointReads`) since start. */
  readonly pointReadsAnswered: number;
  /**
   * Runs one read statement; rejects with `QueryError`. `endpoint` labels the latency metric
   * (default `/query`; keep it bounded).
   */
  query(input: QueryInput, endpoint?: string): Promise<QueryResult>;
  /** Kills the workers; queued and running queries reject with `QUERY_UNAVAILABLE`. */
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
  maxInFlightPerClient: z.number().int().min(0).max(1_000_000),
});

/** The latency metric's `outcome` of a failed query. */
export function queryOutcome(error: unknown): QueryOutcome {
  if (!(error instanceof QueryError)) return 'server_error';
  if (error.code === 'QUERY_TIMEOUT' || error.code === 'MIN_SEQUENCE_TIMEOUT') return 'timeout';
  return error.status >= 500 ? 'server_error' : 'client_error';
}

const toSequence = (decimal: string | null) => (decimal === null ? null : BigInt(decimal));

function minSequenceTimeout(min: bigint, seen: bigint | null): QueryError {
  return new QueryError(
    'MIN_SEQUENCE_TIMEOUT',
    `the replica did not reach sequence ${min} in time (at ${seen ?? 'none'})`,
    { sequence: seen },
  );
}

/**
 * Read queries on the replica: a pool of worker processes with read-only, authorizer-guarded
 * connections, limits on rows, bytes and time, and `min_sequence` waits. Needs Node >= 24.10
 * (node:sqlite's authorizer; see `hasSqliteAuthorizer`).
 */
export function createQueryService(options: QueryServiceOptions): QueryService {
  const parsed = limitsSchema.safeParse({
    workers: options.workers ?? 2,
    maxRows: options.maxRows ?? 10_000,
    maxBytes: options.maxBytes ?? 8 * 1024 * 1024,
    timeoutMs: options.timeoutMs ?? 5000,
    minSequenceMaxWaitMs: options.minSequenceMaxWaitMs ?? 10_000,
    maxInFlightPerClient: options.maxInFlightPerClient ?? 32,
  });
  if (!parsed.success) {
    throw new QueryConfigError('invalid query service options', z.prettifyError(parsed.error));
  }
  const limits: QueryLimits = parsed.data;
  const metrics =
    options.metrics ?? (options.registry ? createQueryMetrics(options.registry) : undefined);
  const pool = createQueryPool({
    databasePath: options.databasePath,
    size: limits.workers,
    busyTimeoutMs: options.busyTimeoutMs,
    maxQueue: options.maxQueue,
    workerUrl: options.workerUrl,
    onWorkerExit: options.onWorkerExit,
    maxWorkersPerClient: options.maxWorkersPerClient,
    interruptFloorMs: options.interruptFloorMs,
    launcher: options.launcher,
  });
  const source = options.sequence;
  const waiters = createSequenceWaiters(source);
  const maxSequenceWaits = options.maxSequenceWaits ?? 4096;
  const inFlight = new Map<string, number>();
  const pointReads =
    options.pointReads === undefined || options.pointReads === false
      ? undefined
      : new PointReads(options.databasePath, options.pointReads === true ? {} : options.pointReads);

  const run = async (input: QueryInput): Promise<QueryResult> => {
    const started = performance.now();
    const timeoutMs = Math.min(input.timeoutMs ?? limits.timeoutMs, limits.timeoutMs);
    const min = input.minSequence;
    const waitDeadline =
      started + Math.min(limits.minSequenceMaxWaitMs, input.timeoutMs ?? Number.POSITIVE_INFINITY);
    const request: WorkerRequest = {
      sql: input.sql,
      params: input.params ?? null,
      minSequence: min === undefined ? null : min.toString(),
      maxRows: limits.maxRows,
      maxBytes: Math.max(2, Math.min(input.maxBytes ?? limits.maxBytes, limits.maxBytes)),
    };
    if (pointReads !== undefined && (min === undefined || reachedNow(min))) {
      const here = pointReads.tryRun(
        input.sql,
        request.params,
        min,
        request.maxRows,
        request.maxBytes,
      );
      if (here !== undefined) {
        metrics?.pointReads?.inc();
        return queryResult(here.columns, here.rowsJsonBytes, here.rowCount, here.sequence);
      }
    }
    let retryMs = 5;
    /** The replica's sequence when a worker last answered "behind" (undefined: never). */
    let behindAt: bigint | null | undefined;
    for (;;) {
      if (min !== undefined && source !== undefined && !reachedNow(min)) {
        if (waiters.size >= maxSequenceWaits) {
          throw new QueryError(
            'QUERY_BUSY',
            `too many min_sequence waits (${maxSequenceWaits}); retry later`,
          );
        }
        if (!(await waiters.wait(min, waitDeadline))) {
          throw minSequenceTimeout(min, source.lastSequence());
        }
      }
      let result: WorkerResult;
      try {
        result = await pool.run(request, performance.now() + timeoutMs, input.client);
      } catch (e) {
        // A re-run after the replica was seen behind ran out of time (on a loaded machine a
        // queue wait or a worker restart can outlast the wait window): the replica not reaching
        // the sequence is what the client has to learn, as when the wait itself times out.
        if (behindAt !== undefined && e instanceof QueryError && e.code === 'QUERY_TIMEOUT') {
          throw minSequenceTimeout(min ?? 0n, behindAt);
        }
        throw e;
      }
      if ('behind' in result) {
        behindAt = toSequence(result.sequence);
        const remaining = waitDeadline - performance.now();
        if (remaining <= 0) throw minSequenceTimeout(min ?? 0n, toSequence(result.sequence));
        // The source said reached but the worker's snapshot is older (the commit is not visible
        // yet), or there is no source: retry shortly, backing off.
        await new Promise((r) =>
          setTimeout(r, Math.min(source === undefined ? 25 : retryMs, remaining)),
        );
        retryMs = Math.min(retryMs * 2, 200);
        continue;
      }
      if (!result.ok) {
        const code: QueryErrorCode = isQueryErrorCode(result.code) ? result.code : 'QUERY_INTERNAL';
        throw new QueryError(code, result.message, { sequence: toSequence(result.sequence) });
      }
      pointReads?.learn(input.sql, request.params);
      return queryResult(result.columns, result.rows, result.rowCount, toSequence(result.sequence));
    }
  };
  const reachedNow = (min: bigint) => {
    const last = source?.lastSequence() ?? null;
    return last !== null && last >= min;
  };

  /** Counts the query against its client's in-flight cap; returns the release. */
  const admit = (client: string | undefined): (() => void) => {
    const cap = limits.maxInFlightPerClient;
    if (client === undefined || cap === 0) return () => {};
    const n = inFlight.get(client) ?? 0;
    if (n >= cap) {
      throw new QueryError(
        'QUERY_CLIENT_BUSY',
        `this client has ${n} queries in flight (at most ${cap}); retry later`,
      );
    }
    inFlight.set(client, n + 1);
    return () => {
      const left = (inFlight.get(client) ?? 1) - 1;
      if (left <= 0) inFlight.delete(client);
      else inFlight.set(client, left);
    };
  };

  return {
    limits,
    pool,
    ready: () => pool.ready(),
    get available() {
      return pool.available;
    },
    get pointReadsAnswered() {
      return pointReads?.answered ?? 0;
    },
    async query(input, endpoint = '/query') {
      const started = performance.now();
      let outcome: QueryOutcome = 'ok';
      let release: (() => void) | undefined;
      try {
        release = admit(input.client);
        return await run(input);
      } catch (error) {
        outcome = queryOutcome(error);
        throw error;
      } finally {
        release?.();
        metrics?.queryLatency.observe({ endpoint, outcome }, (performance.now() - started) / 1000);
      }
    },
    close: () => {
      waiters.close();
      pointReads?.close();
      return pool.close();
    },
  };
}

/** A QueryResult whose `rowsJson` string is decoded from the bytes only when asked for. */
function queryResult(
  columns: string[],
  rowsJsonBytes: Uint8Array,
  rowCount: number,
  sequence: bigint | null,
): QueryResult {
  let text: string | undefined;
  return {
    columns,
    rowsJsonBytes,
    get rowsJson() {
      text ??= Buffer.from(
        rowsJsonBytes.buffer,
        rowsJsonBytes.byteOffset,
        rowsJsonBytes.byteLength,
      ).toString('utf8');
      return text;
    },
    rowCount,
    sequence,
  };
}
