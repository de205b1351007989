import { Counter, Histogram, type Registry } from 'prom-client';

export const QUERY_LATENCY_METRIC = 'synddb_query_latency_seconds';
export const POINT_READS_METRIC = 'synddb_query_point_reads_total';

/** Buckets of `synddb_query_latency_seconds` (read queries are mostly sub-millisecond). */
export const QUERY_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** `outcome` label values of the query latency histogram. */
export const QUERY_OUTCOMES = ['ok', 'client_error', 'server_error', 'timeout'] as const;
export type QueryOutcome = (typeof QUERY_OUTCOMES)[number];

export interface QueryMetrics {
  /**
   * `synddb_query_latency_seconds{endpoint,outcome}`: one observation per read query
   * (`min_sequence` wait, queue and statement). `endpoint` is a bounded route or method name
   * (never a raw path or SQL): `/query`, `synddb_query`; `outcome` is one of `QUERY_OUTCOMES`.
   */
  readonly queryLatency: Histogram<'endpoint' | 'outcome'>;
  /**
   * `synddb_query_point_reads_total`: queries answered on the calling thread by point reads
   * (`pointReads`), without a worker. Absent in metrics built before it existed.
   */
  readonly pointReads?: Counter | undefined;
}

/**
 * The query metrics in `registry`. A registry that already holds `synddb_query_latency_seconds`
 * (the validator's, from `createValidatorMetrics`) keeps its histogram, which is reused.
 */
export function createQueryMetrics(registry: Registry): QueryMetrics {
  const existing = registry.getSingleMetric(QUERY_LATENCY_METRIC);
  if (existing !== undefined) {
    // Duck-typed: the registry may come from another copy of prom-client.
    if (typeof (existing as Partial<Histogram>).observe !== 'function') {
      throw new TypeError(`${QUERY_LATENCY_METRIC} is registered, but not as a histogram`);
    }
    return {
      queryLatency: existing as Histogram<'endpoint' | 'outcome'>,
      pointReads: pointReadsCounter(registry),
    };
  }
  return {
    pointReads: pointReadsCounter(registry),
    queryLatency: new Histogram({
      name: QUERY_LATENCY_METRIC,
      help: 'Duration of one read query, by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      buckets: [...QUERY_LATENCY_BUCKETS],
      registers: [registry],
    }),
  };
}

function pointReadsCounter(registry: Registry): Counter | undefined {
  const existing = registry.getSingleMetric(POINT_READS_METRIC);
  if (existing !== undefined) {
    return typeof (existing as Partial<Counter>).inc === 'function'
      ? (existing as Counter)
      : undefined;
  }
  return new Counter({
    name: POINT_READS_METRIC,
    help: 'Read queries answered on the API thread by point reads, without a query worker',
    registers: [registry],
  });
}
