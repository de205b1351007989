import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The reference's HTTP metrics (`axum_http_*`), recorded by `createValidatorApi` per request. */
export interface HttpMetrics {
  /** (ref) `axum_http_requests_total{method,endpoint,status}` */
  readonly httpRequests: Counter<'method' | 'endpoint' | 'status'>;
  /** (ref) `axum_http_requests_duration_seconds{method,endpoint,status}` */
  readonly httpRequestDuration: Histogram<'method' | 'endpoint' | 'status'>;
  /** (ref) `axum_http_requests_pending{method,endpoint}` */
  readonly httpRequestsPending: Gauge<'method' | 'endpoint'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const registers = [registry];
  return {
    httpRequests: new Counter({
      name: 'axum_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'endpoint', 'status'],
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: 'axum_http_requests_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'endpoint', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    httpRequestsPending: new Gauge({
      name: 'axum_http_requests_pending',
      help: 'HTTP requests in flight',
      labelNames: ['method', 'endpoint'],
      registers,
    }),
  };
}
