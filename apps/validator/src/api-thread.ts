// The validator's API thread (a worker_thread started by api-host.ts): the main API's HTTP server
// (connection limits, rate limiter, /health, /ready, /status, /metrics, /query, /rpc), query
// dispatch to the query worker processes, and WebSocket subscriptions. The main thread runs the
// sync engine, whose synchronous SQLite writes would otherwise hold every request for the rest
// of an apply slice; it posts the committed status and every commit here (HostMessage).
import { EventEmitter } from 'node:events';
import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import type { LogFields, Logger, LogLevel } from '@synddb/app-kit';
import {
  attachSubscriptions,
  createConnectionLimits,
  createHttpMetrics,
  createRateLimiter,
  createValidatorApi,
  createWsMetrics,
  type RowChangesGate,
  type ServedApi,
  type Subscriptions,
  serveValidatorApi,
} from '@synddb/http-api';
import {
  createQueryMetrics,
  createQueryService,
  type QueryService,
  sequenceSourceFromEngine,
} from '@synddb/query';
import type { SyncEvents, SyncStatus } from '@synddb/sync';
import { Registry } from 'prom-client';
import {
  type ApiThreadData,
  type HostMessage,
  type SchemaRows,
  type StatusSnapshot,
  serializeError,
  type ThreadMessage,
} from './api-protocol';

const parent = parentPort;
if (parent === null) throw new Error('api-thread must run in a worker thread');
const data = workerData as ApiThreadData;
const { settings } = data;
const events: MessagePort = data.events;
const send = (message: ThreadMessage) => parent.postMessage(message);
/** How long a refused (429) API request waits before its answer (see @synddb/http-api's refusalDelayMs). */
const REFUSAL_DELAY_MS = 1000;

// ---- logging: lines go to the main thread's logger -------------------------------------------

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };
function threadLogger(bindings: LogFields = {}): Logger {
  const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[level] < RANK[settings.logLevel]) return;
    const all = { ...bindings, ...fields };
    try {
      send({ t: 'log', level, message, fields: all });
    } catch {
      send({ t: 'log', level, message, fields: JSON.parse(JSON.stringify(all, jsonSafe)) });
    }
  };
  return {
    level: settings.logLevel,
    isEnabled: (level) => RANK[level] >= RANK[settings.logLevel],
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => threadLogger({ ...bindings, ...more }),
  };
}
const jsonSafe = (_key: string, value: unknown) =>
  typeof value === 'bigint' ? value.toString() : typeof value === 'function' ? undefined : value;
const logger = threadLogger();

// ---- the engine as seen from here: the last committed status and the commit events ----------

/** Stands in for the sync engine: `status()`, `'applied'` and `'snapshot'` events. */
class EngineMirror extends EventEmitter<Pick<SyncEvents, 'applied' | 'snapshot'>> {
  snapshot: StatusSnapshot = data.initial;
  status(): SyncStatus {
    drain();
    return this.snapshot.status;
  }
  get syncedOnce(): boolean {
    drain();
    return this.snapshot.syncedOnce;
  }
}
const mirror = new EngineMirror();
let schema: SchemaRows = data.schema;
// Column names for row changes, read by the main thread with each snapshot (the schema changes
// only then); a SchemaCache reads the whole list at once, as from a replica connection.
const schemaSource = { prepare: () => ({ all: () => schema }) };

let rowsWanted = 0;
let rowsReady: Promise<void> = Promise.resolve();
let nextId = 1;
const rowsAcks = new Map<number, () => void>();
const lostListeners: (() => void)[] = [];
const rowChanges: RowChangesGate = {
  acquire() {
    if (rowsWanted++ === 0) {
      const id = nextId++;
      rowsReady = new Promise<void>((resolve) => rowsAcks.set(id, resolve));
      send({ t: 'rows', id, wanted: true });
    }
    return rowsReady;
  },
  release() {
    if (--rowsWanted === 0) send({ t: 'rows', id: nextId++, wanted: false });
  },
  onLost: (listener) => lostListeners.push(listener),
};

const metricsReplies = new Map<number, (text: string) => void>();
/** The main thread's registry (sync, signing, process), asked for on each /metrics. */
const mainMetrics = () =>
  new Promise<string>((resolve) => {
    const id = nextId++;
    metricsReplies.set(id, resolve);
    send({ t: 'metrics', id });
  });

let dispatching = false;
function onHostMessage(message: HostMessage): void {
  dispatching = true;
  try {
    dispatch(message);
  } finally {
    dispatching = false;
  }
}

/**
 * Takes every message the main thread has posted so far, in order, before a status is read: a
 * request that follows a commit in time sees it, whichever of the two this thread's event loop
 * noticed first. (Not while a message is being handled: its listeners see the status it set,
 * and the next message waits for them all, so no listener sees commits out of order.)
 */
function drain(): void {
  if (dispatching) return;
  for (;;) {
    const next = receiveMessageOnPort(events);
    if (next === undefined) return;
    onHostMessage(next.message as HostMessage);
  }
}

function dispatch(message: HostMessage): void {
  switch (message.t) {
    case 'status':
      mirror.snapshot = message.snapshot;
      return;
    case 'applied': {
      mirror.snapshot = message.snapshot;
      if (message.lost) {
        logger.warn(
          'row changes were dropped before this thread took them: rows subscribers dropped',
        );
        for (const listener of lostListeners) listener();
      }
      mirror.emit('applied', message.messages);
      let bytes = 0;
      for (const m of message.messages) for (const c of m.changesets) bytes += c.byteLength;
      if (bytes > 0) send({ t: 'consumed', bytes });
      return;
    }
    case 'snapshot':
      schema = message.schema;
      mirror.emit('snapshot', message.info);
      return;
    case 'rows-ack':
      rowsAcks.get(message.id)?.();
      rowsAcks.delete(message.id);
      return;
    case 'metrics-reply':
      metricsReplies.get(message.id)?.(message.text);
      metricsReplies.delete(message.id);
      return;
    case 'query':
      void answerQuery(message.id, message.input, message.endpoint);
      return;
    case 'clients':
      send({ t: 'clients-reply', id: message.id, clients: subscriptions?.clients() ?? [] });
      return;
    case 'stop':
      void stop();
      return;
  }
}
events.on('message', onHostMessage);

// ---- the API -----------------------------------------------------------------------------

let query: QueryService | undefined;
let server: ServedApi | undefined;
let subscriptions: Subscriptions | undefined;
let availableTimer: NodeJS.Timeout | undefined;

async function answerQuery(
  id: number,
  input: Parameters<QueryService['query']>[0],
  endpoint?: string,
) {
  await startup.catch(() => {});
  if (query === undefined) {
    send({ t: 'query-reply', id, error: serializeError(new Error('read queries are off')) });
    return;
  }
  try {
    const { columns, rowsJsonBytes, rowCount, sequence } = await query.query(input, endpoint);
    send({ t: 'query-reply', id, result: { columns, rowsJsonBytes, rowCount, sequence } });
  } catch (error) {
    send({ t: 'query-reply', id, error: serializeError(error) });
  }
}

async function start(): Promise<void> {
  const registry = new Registry();
  // Exposition order as before: (main thread: process, sync, signing) queries, WebSocket, HTTP.
  const metrics = {
    registry,
    ...createQueryMetrics(registry),
    ...createWsMetrics(registry),
    ...createHttpMetrics(registry),
    // the sync gauges are refreshed by the main thread when it answers for its registry
    observeStatus: () => {},
  };
  if (settings.query !== null) {
    const q = settings.query;
    try {
      query = createQueryService({
        databasePath: settings.databasePath,
        workers: q.workers,
        maxRows: q.maxRows,
        maxBytes: q.maxBytes,
        timeoutMs: q.timeoutMs,
        minSequenceMaxWaitMs: q.minSequenceMaxWaitMs,
        maxInFlightPerClient: q.maxInFlightPerClient,
        interruptFloorMs: q.interruptFloorMs,
        pointReads: q.pointReads,
        sequence: sequenceSourceFromEngine(mirror),
        metrics,
        onWorkerExit: (info) =>
          info.reason === 'spawn_failed'
            ? logger.error('query worker cannot be started; retrying', { ...info })
            : logger.warn('query worker replaced', { ...info }),
      });
      await query.ready();
    } catch (error) {
      await query?.close();
      query = undefined;
      // the host reports it as ValidatorStartupError('cannot start the query workers')
      throw Object.assign(serializeError(error), { name: 'QueryStartupError' });
    }
  }
  // Limits against hostile clients (issue 13): one rate limiter for HTTP routes, JSON-RPC batch
  // members and WebSocket upgrades; connection caps below the descriptor limit.
  const rateLimit = createRateLimiter({
    ratePerSecond: settings.rateLimit,
    burst: settings.rateLimitBurst,
  });
  const connectionLimits = createConnectionLimits({
    maxConnections: settings.maxConnections,
    reservedDescriptors: settings.reservedFds,
    maxConnectionsPerClient: settings.maxConnectionsPerClient,
    maxOutputPerClient: settings.maxOutputPerClient,
    maxOutputTotal: settings.maxOutputTotal,
  });
  logger.info('connection limits', {
    maxConnections: connectionLimits.maxConnections,
    perClient: connectionLimits.maxConnectionsPerClient,
  });
  const app = createValidatorApi({
    status: () => mirror.status(),
    metrics,
    externalMetrics: mainMetrics,
    maxLag: settings.maxLag,
    syncedOnce: () => mirror.syncedOnce,
    query,
    rateLimit,
    connectionLimits,
    // Refusals (429) wait up to a second: clients that re-send at once cannot flood this thread.
    refusalDelayMs: REFUSAL_DELAY_MS,
    maxBodyBytes: settings.maxBodyBytes,
    corsOrigins: settings.corsOrigins,
    onResponse: (r) => {
      if (logger.isEnabled('debug')) logger.debug('http request', { ...r });
    },
  });
  server = await serveValidatorApi(app, {
    bindAddress: settings.bindAddress,
    connectionLimits,
    idleTimeoutMs: settings.idleTimeoutMs,
  });
  const ws = settings.ws;
  subscriptions =
    ws === null
      ? undefined
      : attachSubscriptions(server.server as Parameters<typeof attachSubscriptions>[0], {
          engine: mirror,
          replica: schemaSource,
          maxClients: ws.maxClients,
          maxQueue: ws.maxQueue,
          maxClientsPerAddress: ws.maxClientsPerAddress,
          maxTotalBufferedBytes: ws.maxTotalBuffered,
          rateLimit,
          metrics,
          rowChanges,
          logger: {
            debug: (message, fields) => logger.debug(message, fields),
            warn: (message, fields) => logger.warn(message, fields),
          },
        });
  let available = query?.available ?? 0;
  availableTimer = setInterval(() => {
    if (query !== undefined && query.available !== available) {
      available = query.available;
      send({ t: 'available', available });
    }
  }, 250);
  availableTimer.unref();
  send({
    t: 'ready',
    url: server.url,
    queryLimits: query?.limits ?? null,
    available,
    subscriptions: subscriptions !== undefined,
  });
}

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    if (availableTimer !== undefined) clearInterval(availableTimer);
    // Upgraded sockets would keep server.close() waiting: close the subscriptions first.
    await subscriptions?.close();
    await server?.close();
    await query?.close();
    for (const resolve of metricsReplies.values()) resolve('');
    metricsReplies.clear();
    send({ t: 'stopped' });
    events.close();
  })();
  return stopping;
}

const startup = start();
startup.catch(async (error: unknown) => {
  send({ t: 'startup-failed', error: serializeError(error) });
  await stop().catch(() => {});
});
