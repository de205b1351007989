import { createQueryMetrics, type QueryMetrics } from '@synddb/query';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createSigningMetrics, type SigningMetrics } from '../signature-api/signing-metrics';
import { createSyncMetrics, type SyncMetrics } from '../sync-metrics/sync-metrics';
import { createHttpMetrics, type HttpMetrics } from '../validator-api/http-metrics';
import { createWsMetrics, type WsMetrics } from '../ws/ws-metrics';

export interface CreateValidatorMetricsOptions {
  /** Also register prom-client's default process/Node.js metrics. Default false. */
  defaultMetrics?: boolean;
}

/**
 * Every metric the validator exports, in one registry. Each group is defined next to what it
 * measures: the sync pipeline (`createSyncMetrics`, recorded by `bindSyncMetrics`), bridge
 * signing (`createSigningMetrics`), read queries (`createQueryMetrics` of `@synddb/query`),
 * WebSocket subscriptions (`createWsMetrics`) and HTTP requests (`createHttpMetrics`).
 */
export interface ValidatorMetrics
  extends SyncMetrics,
    SigningMetrics,
    QueryMetrics,
    WsMetrics,
    HttpMetrics {
  readonly registry: Registry;
}

/** Creates the validator's metrics in `registry` (a fresh one by default). */
export function createValidatorMetrics(
  registry: Registry = new Registry(),
  options: CreateValidatorMetricsOptions = {},
): ValidatorMetrics {
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  // Registration order is exposition order: sync, signing, queries, WebSocket, HTTP.
  return {
    registry,
    ...createSyncMetrics(registry),
    ...createSigningMetrics(registry),
    ...createQueryMetrics(registry),
    ...createWsMetrics(registry),
    ...createHttpMetrics(registry),
  };
}
