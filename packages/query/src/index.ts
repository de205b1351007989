export {
  isQueryErrorCode,
  QUERY_ERROR_KINDS,
  QueryConfigError,
  QueryError,
  type QueryErrorCode,
} from './errors';
export {
  createQueryMetrics,
  QUERY_LATENCY_BUCKETS,
  QUERY_LATENCY_METRIC,
  QUERY_OUTCOMES,
  type QueryMetrics,
  type QueryOutcome,
} from './query-metrics';
export {
  createQueryPool,
  type QueryPool,
  type QueryPoolOptions,
  queryWorkerLocation,
  type WorkerExitReason,
} from './query-pool';
export { queryResultJson, queryResultJsonBytes } from './query-result-json';
export {
  createQueryService,
  type QueryInput,
  type QueryLimits,
  type QueryResult,
  type QueryService,
  type QueryServiceOptions,
  queryOutcome,
} from './query-service';
export {
  type AppliedEventSource,
  createSequenceWaiters,
  type SequenceSource,
  type SequenceWaiters,
  sequenceSourceFromEngine,
  waitForSequence,
} from './sequence-source';
export { hasSqliteAuthorizer } from './sqlite-support';
export {
  createWorkerLauncher,
  type WorkerHandle,
  type WorkerLauncher,
  type WorkerLauncherOptions,
} from './worker-launcher';
export type { WorkerRequest, WorkerResult } from './worker-protocol';
