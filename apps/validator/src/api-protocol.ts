// Messages between the main thread (sync engine, replica writer) and the API thread (HTTP server,
// query dispatch, WebSocket subscriptions): see api-host.ts and api-thread.ts.
import type { MessagePort } from 'node:worker_threads';
import type { LogFields, LogLevel } from '@synddb/app-kit';
import type { SubscriptionClientInfo } from '@synddb/http-api';
import type { QueryInput, QueryLimits } from '@synddb/query';
import type { AppliedMessage, SyncStatus } from '@synddb/sync';

/** What the API thread is configured with (a subset of `ValidatorConfig`: no keys, no paths it does not need). */
export interface ApiThreadSettings {
  bindAddress: string;
  databasePath: string;
  maxLag: bigint | undefined;
  /** Query workers to start; null = queries off. */
  query: {
    workers: number;
    maxRows: number;
    maxBytes: number;
    timeoutMs: number;
    minSequenceMaxWaitMs: number;
    maxInFlightPerClient: number;
    interruptFloorMs: number;
    /** Point queries answered on the API thread (`@synddb/query`'s `pointReads`). */
    pointReads: boolean;
  } | null;
  rateLimit: number;
  rateLimitBurst: number | undefined;
  maxConnections: number | 'auto';
  reservedFds: number;
  maxConnectionsPerClient: number;
  maxOutputPerClient: number;
  maxOutputTotal: number;
  maxBodyBytes: number;
  corsOrigins: string[] | undefined;
  idleTimeoutMs: number;
  /** WebSocket subscriptions; null = `/ws` off. */
  ws: {
    maxClients: number;
    maxQueue: number;
    maxClientsPerAddress: number;
    maxTotalBuffered: number;
  } | null;
  /** Lowest level the main thread's logger writes (the thread skips building other lines). */
  logLevel: LogLevel;
}

/** The committed sync status as the main thread last saw it. */
export interface StatusSnapshot {
  status: SyncStatus;
  syncedOnce: boolean;
}

/** Column names of the replica's tables, in column order (the schema changes only with snapshots). */
export type SchemaRows = { t: string; c: string }[];

export interface ApiThreadData {
  settings: ApiThreadSettings;
  initial: StatusSnapshot;
  schema: SchemaRows;
  /** Port of the host's events (`HostMessage`); the thread answers on `parentPort`. */
  events: MessagePort;
}

export interface SerializedError {
  name: string;
  message: string;
  code: string | undefined;
  /** QueryError's sequence (decimal) and status. */
  sequence?: string | null | undefined;
  stack?: string | undefined;
}

/** Main thread -> API thread, in the order they happened. */
export type HostMessage =
  | { t: 'status'; snapshot: StatusSnapshot }
  /**
   * Messages of one commit, then the status after it. `changesets` are empty unless rows were
   * wanted; `lost` = their changesets were dropped (over the in-flight budget).
   */
  | { t: 'applied'; messages: AppliedMessage[]; snapshot: StatusSnapshot; lost: boolean }
  | {
      t: 'snapshot';
      info: { sequence: bigint; timestamp: bigint; bytes: number };
      schema: SchemaRows;
    }
  /** From now on every `applied` carries changesets (answers `rows` with `wanted: true`). */
  | { t: 'rows-ack'; id: number }
  | { t: 'metrics-reply'; id: number; text: string }
  | { t: 'query'; id: number; input: QueryInput; endpoint: string | undefined }
  | { t: 'clients'; id: number }
  | { t: 'stop' };

/** API thread -> main thread. */
export type ThreadMessage =
  | {
      t: 'ready';
      url: string;
      queryLimits: QueryLimits | null;
      available: number;
      subscriptions: boolean;
    }
  | { t: 'startup-failed'; error: SerializedError }
  | { t: 'log'; level: LogLevel; message: string; fields: LogFields | undefined }
  | { t: 'metrics'; id: number }
  | { t: 'rows'; id: number; wanted: boolean }
  /** Changeset bytes of `applied` messages the thread has handed on (the in-flight budget). */
  | { t: 'consumed'; bytes: number }
  | { t: 'available'; available: number }
  | {
      t: 'query-reply';
      id: number;
      /** The rows' JSON as bytes (as the query worker wrote them; not decoded on the thread). */
      result?: {
        columns: string[];
        rowsJsonBytes: Uint8Array;
        rowCount: number;
        sequence: bigint | null;
      };
      error?: SerializedError;
    }
  | { t: 'clients-reply'; id: number; clients: SubscriptionClientInfo[] }
  | { t: 'stopped' };

export function serializeError(error: unknown): SerializedError {
  if (typeof error !== 'object' || error === null || !('message' in error)) {
    return { name: 'Error', message: String(error), code: undefined };
  }
  const e = error as Partial<Error> & { code?: unknown; sequence?: unknown };
  return {
    name: String(e.name ?? 'Error'),
    message: String(e.message),
    code: typeof e.code === 'string' ? e.code : undefined,
    sequence:
      typeof e.sequence === 'bigint'
        ? e.sequence.toString()
        : e.sequence === null
          ? null
          : undefined,
    stack: e.stack,
  };
}
