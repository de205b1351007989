// Main-thread side of the API thread (api-thread.ts): starts it, posts it the committed status and
// every commit of the sync engine, answers its requests for the main thread's metrics, relays its
// log lines, proxies `ValidatorHandle.query` / `.subscriptions`, and restarts it if it dies.
import { writeFileSync } from 'node:fs';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { Logger } from '@synddb/app-kit';
import {
  ListenError,
  parseBindAddress,
  type SubscriptionClientInfo,
  type ValidatorMetrics,
} from '@synddb/http-api';
import { QueryError, type QueryInput, type QueryLimits, type QueryResult } from '@synddb/query';
import type { AppliedMessage, SyncEngine } from '@synddb/sync';
import type { Database } from 'better-sqlite3';
import { Counter } from 'prom-client';
import type {
  ApiThreadData,
  ApiThreadSettings,
  HostMessage,
  SchemaRows,
  SerializedError,
  StatusSnapshot,
  ThreadMessage,
} from './api-protocol';
import { ValidatorStartupError } from './errors';

/**
 * Read queries, answered by the API thread's query workers (`ValidatorHandle.query`): the
 * `QueryService` of `@synddb/query` without its `pool` and `close()`, which stay in that thread.
 */
export interface ValidatorQueries {
  readonly limits: QueryLimits;
  /** Workers able to answer, as the API thread last reported (every 250 ms at most). */
  readonly available: number;
  /** Resolves once the API thread is serving (its workers have opened the replica). */
  ready(): Promise<void>;
  query(input: QueryInput, endpoint?: string): Promise<QueryResult>;
}

/** The WebSocket subscriptions of the API thread (`ValidatorHandle.subscriptions`). */
export interface ValidatorSubscriptions {
  /** The connected clients (asked of the API thread). */
  clients(): Promise<SubscriptionClientInfo[]>;
}

export interface ApiHost {
  readonly url: string;
  readonly query: ValidatorQueries | null;
  readonly subscriptions: ValidatorSubscriptions | undefined;
  /** Stops the API thread: subscriptions, server, query workers. Idempotent. */
  close(): Promise<void>;
}

export interface StartApiThreadOptions {
  settings: ApiThreadSettings;
  engine: SyncEngine;
  /** The main thread's metrics (sync, signing, process), merged into the thread's `/metrics`. */
  metrics: Pick<ValidatorMetrics, 'registry' | 'observeStatus'>;
  logger: Logger;
  syncedOnce: () => boolean;
  /** The replica's connection, to read column names (at start and after each snapshot). */
  db: Database;
  /**
   * Changeset bytes posted to the thread and not yet taken by it; over it the changesets of a
   * commit are dropped and the rows subscribers with them (4008), never silently.
   */
  maxInFlightBytes: number;
  /** Default: api-thread.js next to this bundle (api-thread.ts through tsx from sources). */
  workerUrl?: URL;
}

const SCHEMA_SQL =
  "SELECT m.name AS t, p.name AS c FROM sqlite_schema AS m, pragma_table_info(m.name) AS p WHERE m.type = 'table' ORDER BY m.name, p.cid";
/** /status between commits (head, lag seconds): at least this often. */
const STATUS_INTERVAL_MS = 250;
const STOP_TIMEOUT_MS = 15_000;

function readSchema(db: Database): SchemaRows {
  try {
    return db.prepare(SCHEMA_SQL).all() as SchemaRows;
  } catch {
    return [];
  }
}

/** Copies a changeset that views a larger buffer (a posted view would copy its whole buffer). */
const compact = (bytes: Uint8Array) =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();

function rebuildError(error: SerializedError): Error {
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  if (error.stack !== undefined) rebuilt.stack = error.stack;
  return Object.assign(rebuilt, error.code === undefined ? {} : { code: error.code });
}

/** Starts the API thread and resolves once it serves (or rejects with why it cannot). */
export async function startApiThread(options: StartApiThreadOptions): Promise<ApiHost> {
  const { engine, logger, metrics } = options;
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const workerUrl =
    options.workerUrl ?? new URL(fromSource ? './api-thread.ts' : './api-thread.js', here);
  const execArgv = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];
  const restarts = new Counter({
    name: 'synddb_validator_api_thread_restarts_total',
    help: 'Restarts of the API thread after it died (each is logged as an error)',
    registers: [metrics.registry],
  });

  let settings = options.settings;
  const snapshot = (): StatusSnapshot => ({
    status: engine.status(),
    syncedOnce: options.syncedOnce(),
  });

  let worker: Worker | undefined;
  let port: MessagePort | undefined;
  let closing = false;
  let rowsWanted = false;
  let inFlight = 0;
  let url = '';
  let limits: QueryLimits | null = null;
  let available = 0;
  let subscriptionsOn = false;
  let nextId = 1;
  const queries = new Map<number, { resolve(r: QueryResult): void; reject(e: Error): void }>();
  const clientLists = new Map<number, (clients: SubscriptionClientInfo[]) => void>();
  let stopped: (() => void) | undefined;

  const post = (message: HostMessage) => port?.postMessage(message);

  // ---- engine events -> thread ----------------------------------------------------------

  const onApplied = (applied: AppliedMessage[]) => {
    if (port === undefined) return;
    let bytes = 0;
    if (rowsWanted) for (const m of applied) for (const c of m.changesets) bytes += c.byteLength;
    const lost = rowsWanted && bytes > 0 && inFlight + bytes > options.maxInFlightBytes;
    const carry = rowsWanted && !lost;
    if (carry) inFlight += bytes;
    post({
      t: 'applied',
      messages: applied.map((m) => ({
        sequence: m.sequence,
        timestamp: m.timestamp,
        messageType: m.messageType,
        changesets: carry ? m.changesets.map(compact) : [],
      })),
      snapshot: snapshot(),
      lost,
    });
  };
  const onSnapshot = (info: { sequence: bigint; timestamp: bigint; bytes: number }) =>
    post({ t: 'snapshot', info, schema: readSchema(options.db) });
  const onStatus = () => post({ t: 'status', snapshot: snapshot() });
  const statusEvents = ['caughtUp', 'halted', 'resumed', 'retrying', 'gapSkipped'] as const;
  engine.on('applied', onApplied);
  engine.on('snapshot', onSnapshot);
  for (const event of statusEvents) engine.on(event, onStatus);
  const statusTimer = setInterval(onStatus, STATUS_INTERVAL_MS);
  statusTimer.unref();

  // ---- thread -> main -------------------------------------------------------------------

  const onThreadMessage = (message: ThreadMessage) => {
    switch (message.t) {
      case 'log':
        logger[message.level](message.message, message.fields);
        return;
      case 'metrics':
        metrics.observeStatus(engine.status());
        void metrics.registry.metrics().then(
          (text) => post({ t: 'metrics-reply', id: message.id, text }),
          () => post({ t: 'metrics-reply', id: message.id, text: '' }),
        );
        return;
      case 'rows':
        rowsWanted = message.wanted;
        // Every commit after this one carries changesets: the thread starts the subscription now.
        if (message.wanted) post({ t: 'rows-ack', id: message.id });
        return;
      case 'consumed':
        inFlight = Math.max(0, inFlight - message.bytes);
        return;
      case 'available':
        available = message.available;
        return;
      case 'query-reply': {
        const pending = queries.get(message.id);
        queries.delete(message.id);
        if (message.result !== undefined) pending?.resolve(hostQueryResult(message.result));
        else pending?.reject(queryErrorOf(message.error));
        return;
      }
      case 'clients-reply':
        clientLists.get(message.id)?.(message.clients);
        clientLists.delete(message.id);
        return;
      case 'stopped':
        stopped?.();
        return;
      case 'ready':
      case 'startup-failed':
        return; // handled by spawn()
    }
  };

  const failPending = () => {
    for (const q of queries.values()) {
      q.reject(new QueryError('QUERY_UNAVAILABLE', 'the API thread stopped'));
    }
    queries.clear();
    for (const resolve of clientLists.values()) resolve([]);
    clientLists.clear();
  };

  /** Starts one API thread; resolves once it serves. */
  const spawn = () =>
    new Promise<void>((resolve, reject) => {
      const channel = new MessageChannel();
      const data: ApiThreadData = {
        settings,
        initial: snapshot(),
        schema: readSchema(options.db),
        events: channel.port2,
      };
      const thread = new Worker(workerUrl, {
        execArgv,
        workerData: data,
        transferList: [channel.port2],
      });
      rowsWanted = false;
      inFlight = 0;
      // Events from now on queue in the channel until the thread listens: none is missed.
      port = channel.port1;
      let started = false;
      thread.on('message', (message: ThreadMessage) => {
        if (message.t === 'ready') {
          started = true;
          url = message.url;
          limits = message.queryLimits;
          available = message.available;
          subscriptionsOn = message.subscriptions;
          worker = thread;
          startProfile(thread);
          resolve();
        } else if (message.t === 'startup-failed') {
          reject(startupError(message.error, settings.bindAddress));
          void thread.terminate();
        } else {
          onThreadMessage(message);
        }
      });
      thread.on('error', (error) => {
        logger.error('the API thread failed', { error });
        if (!started) reject(error);
      });
      thread.on('exit', (code) => {
        channel.port1.close();
        if (worker === thread) worker = undefined;
        if (port === channel.port1) port = undefined;
        failPending();
        stopped?.();
        if (!started) {
          reject(new Error(`the API thread exited with code ${code} before serving`));
        } else if (!closing) {
          void restart(code);
        }
      });
    });

  // SYNDDB_API_THREAD_CPU_PROF=<file>: a CPU profile of the API thread (.cpuprofile, for Chrome
  // DevTools or speedscope) from its start to the validator's stop. `--cpu-prof` cannot take it:
  // a worker's profile is written when the worker ends by itself, and this one is terminated.
  const profilePath = process.env.SYNDDB_API_THREAD_CPU_PROF;
  let profile: Promise<{ stop(): Promise<string> } | undefined> | undefined;
  function startProfile(thread: Worker) {
    if (profilePath === undefined || profilePath === '' || profile !== undefined) return;
    profile = thread.startCpuProfile().catch((error: unknown) => {
      logger.warn('cannot profile the API thread', { error: error as Error });
      return undefined;
    });
  }
  async function writeProfile() {
    const handle = await profile;
    if (handle === undefined || profilePath === undefined) return;
    try {
      writeFileSync(profilePath, await handle.stop());
      logger.info('API thread CPU profile written', { path: profilePath });
    } catch (error) {
      logger.warn('cannot write the API thread CPU profile', { error: error as Error });
    }
  }

  let failures = 0;
  let restartAt = 0;
  /** A dead API thread is replaced (on the same port), after a backoff if it keeps dying. */
  const restart = async (code: number) => {
    restarts.inc();
    const now = performance.now();
    failures = now - restartAt > 60_000 ? 0 : failures + 1;
    restartAt = now;
    const delay = failures === 0 ? 0 : Math.min(5000, 250 * 2 ** failures);
    logger.error('the API thread exited; restarting it', { code, delayMs: delay });
    // Same port as before, also when the configured one was 0.
    const { host } = parseBindAddress(settings.bindAddress);
    const port = new URL(url).port;
    settings = {
      ...settings,
      bindAddress: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    };
    for (let attempt = 0; !closing; attempt++) {
      await new Promise((r) => setTimeout(r, attempt === 0 ? delay : 5000));
      if (closing) return;
      try {
        await spawn();
        logger.warn('the API thread was restarted', { url });
        return;
      } catch (error) {
        logger.error('the API thread cannot be restarted; retrying', { error: error as Error });
      }
    }
  };

  try {
    await spawn();
  } catch (error) {
    closing = true;
    detach();
    throw error;
  }

  function detach() {
    clearInterval(statusTimer);
    engine.off('applied', onApplied);
    engine.off('snapshot', onSnapshot);
    for (const event of statusEvents) engine.off(event, onStatus);
  }

  let closed: Promise<void> | undefined;
  return {
    get url() {
      return url;
    },
    query:
      options.settings.query === null || limits === null
        ? null
        : {
            get limits() {
              return limits as QueryLimits;
            },
            get available() {
              return worker === undefined ? 0 : available;
            },
            ready: async () => {},
            query(input, endpoint) {
              if (worker === undefined) {
                return Promise.reject(
                  new QueryError('QUERY_UNAVAILABLE', 'the API thread is down'),
                );
              }
              const id = nextId++;
              return new Promise((resolve, reject) => {
                queries.set(id, { resolve, reject });
                post({ t: 'query', id, input, endpoint });
              });
            },
          },
    subscriptions: subscriptionsOn
      ? {
          clients() {
            if (worker === undefined) return Promise.resolve([]);
            const id = nextId++;
            return new Promise((resolve) => {
              clientLists.set(id, resolve);
              post({ t: 'clients', id });
            });
          },
        }
      : undefined,
    close() {
      closed ??= (async () => {
        closing = true;
        detach();
        const thread = worker;
        if (thread === undefined) return;
        const done = new Promise<void>((resolve) => {
          stopped = resolve;
        });
        post({ t: 'stop' });
        const timer = setTimeout(() => stopped?.(), STOP_TIMEOUT_MS);
        await done;
        clearTimeout(timer);
        await writeProfile();
        await thread.terminate();
      })();
      return closed;
    },
  };
}

function queryErrorOf(error: SerializedError | undefined): Error {
  if (error === undefined) return new QueryError('QUERY_INTERNAL', 'no answer');
  if (error.name === 'QueryError' && error.code !== undefined) {
    const sequence =
      error.sequence === undefined || error.sequence === null ? null : BigInt(error.sequence);
    return new QueryError(error.code as QueryError['code'], error.message, { sequence });
  }
  return new QueryError('QUERY_INTERNAL', error.message, { cause: rebuildError(error) });
}

function startupError(error: SerializedError, bindAddress: string): Error {
  const cause = rebuildError(error);
  if (error.name === 'ListenError') {
    // "cannot listen on ADDR (CODE)": keep the class callers and exit codes know
    const reason = /\(([^)]*)\)$/.exec(error.message)?.[1];
    return new ListenError(bindAddress, reason === undefined ? cause : { code: reason });
  }
  if (error.name === 'QueryStartupError') {
    return new ValidatorStartupError('cannot start the query workers', { cause });
  }
  return new ValidatorStartupError('cannot start the API thread', { cause });
}

/** A query result from the API thread, its `rowsJson` text decoded from the bytes on first use. */
function hostQueryResult(r: {
  columns: string[];
  rowsJsonBytes: Uint8Array;
  rowCount: number;
  sequence: bigint | null;
}): QueryResult {
  let text: string | undefined;
  return {
    columns: r.columns,
    rowsJsonBytes: r.rowsJsonBytes,
    get rowsJson() {
      text ??= Buffer.from(
        r.rowsJsonBytes.buffer,
        r.rowsJsonBytes.byteOffset,
        r.rowsJsonBytes.byteLength,
      ).toString('utf8');
      return text;
    },
    rowCount: r.rowCount,
    sequence: r.sequence,
  };
}
