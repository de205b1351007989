// The public types of attachSubscriptions (attach-subscriptions.ts).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ColumnNamesLookup, ReplicaSchemaSource } from './row-changes';
import type { WsMetrics } from './ws-metrics';

/**
 * What `attachSubscriptions` listens to: a `SyncEngine` of `@synddb/sync` fits. `applied` carries
 * committed messages (`AppliedMessage[]`) in sequence order; `snapshot` announces a replica swap
 * (drops the schema cache).
 */
export interface SubscriptionEventSource {
  // biome-ignore lint/suspicious/noExplicitAny: Node's EventEmitter<T> listener signature
  on(event: 'applied' | 'snapshot', listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: Node's EventEmitter<T> listener signature
  off(event: 'applied' | 'snapshot', listener: (...args: any[]) => void): unknown;
}

/** An HTTP server whose `upgrade` requests the subscriptions take over (Node's `http.Server`). */
export interface UpgradeServer {
  on(
    event: 'upgrade',
    listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
  ): unknown;
  off(
    event: 'upgrade',
    listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void,
  ): unknown;
  listenerCount(event: 'upgrade'): number;
}

/**
 * Where row changes come from when the changesets of `applied` events are only carried while
 * someone subscribes to rows (e.g. events relayed from another thread): a rows subscription takes
 * effect (and is acknowledged) once `acquire()` resolves, from which point every `applied` event
 * carries its changesets until the matching `release()`.
 */
export interface RowChangesGate {
  acquire(): Promise<void>;
  release(): void;
  /** `listener` drops every rows subscriber: row changes were lost upstream (over its budget). */
  onLost(listener: () => void): void;
}

/** Optional structured logger (the validator's `Logger` fits). */
export interface SubscriptionLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
}

export interface AttachSubscriptionsOptions {
  /** The sync engine (or any emitter of its `applied` / `snapshot` events). */
  engine: SubscriptionEventSource;
  /**
   * Where column names come from: a connection to the replica (better-sqlite3 `Database`,
   * preferably read-only: its whole schema is read once per snapshot) or a lookup function (asked
   * lazily, per table). Without it row values are keyed by column position (`"0"`, `"1"`, …).
   */
  replica?: ReplicaSchemaSource | ColumnNamesLookup | null | undefined;
  /** URL path of the WebSocket endpoint. Default `/ws`. */
  path?: string | undefined;
  /** Connected clients allowed; more are closed with 1013 "too many clients". Default 1000. */
  maxClients?: number | undefined;
  /**
   * Connections one peer address may hold; more are closed with 1013 "too many clients from
   * this address", so one client cannot take every slot. Default 16; 0 = no cap.
   */
  maxClientsPerAddress?: number | undefined;
  /**
   * Bytes held for all clients together (queued changesets plus unsent socket buffers). Over it,
   * the client holding the most is dropped as a slow consumer (4008), so subscribers that never
   * read cannot grow this process without bound. Default 128 MiB.
   */
  maxTotalBufferedBytes?: number | undefined;
  /**
   * Each upgrade takes a token of the client's bucket (the HTTP routes' limiter): over it the
   * upgrade is answered 429. Default: no limit.
   */
  rateLimit?: { readonly enabled: boolean; take(client: string): { allowed: boolean } } | undefined;
  /**
   * Applied messages queued per client and not yet sent. A client over it (or over
   * `maxBufferedBytes`) is closed with 4008 "slow consumer". Default 10000.
   */
  maxQueue?: number | undefined;
  /**
   * Bytes held for one client: the raw changesets of its queued messages plus what its socket has
   * not yet handed to the kernel. Over it: 4008 "slow consumer". Default 16 MiB.
   */
  maxBufferedBytes?: number | undefined;
  /** Frames are written to a client while its socket buffer is below this. Default 1 MiB. */
  sendHighWaterMark?: number | undefined;
  /** Largest client frame accepted (bytes); bigger ones close the connection with 1009. Default 16 KiB. */
  maxPayload?: number | undefined;
  /** Ping interval; a client that has not answered the previous ping is terminated. Default 30 s; 0 = off. */
  heartbeatMs?: number | undefined;
  /** Whether row messages carry values when a subscription does not say. Default true. */
  includeValues?: boolean | undefined;
  /** Table names per rows subscription. Default 256. */
  maxTables?: number | undefined;
  /** Invalid messages tolerated per connection before it is closed with 1008. Default 20. */
  maxErrors?: number | undefined;
  /** How long a closing client gets to answer the close frame before it is terminated. Default 2 s. */
  closeGraceMs?: number | undefined;
  /** Where the `synddb_ws_*` metrics are recorded (`createWsMetrics`, or the validator's). */
  metrics?: WsMetrics | undefined;
  logger?: SubscriptionLogger | undefined;
  /** See `RowChangesGate`. Default: every `applied` event carries its changesets. */
  rowChanges?: RowChangesGate | undefined;
}

export interface SubscriptionClientInfo {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly sequences: boolean;
  readonly rows: { tables: readonly string[] | null; values: boolean } | null;
  readonly bufferedAmount: number;
  /** Being closed by the server (slow consumer, too many errors, shutdown). */
  readonly closing: boolean;
}

export interface Subscriptions {
  /** The connected clients. */
  clients(): SubscriptionClientInfo[];
  /**
   * Stops accepting upgrades, detaches from the engine and closes every client with 1001; resolves
   * once all sockets are closed (terminated after `closeGraceMs`). Idempotent. Call it before
   * closing the HTTP server: upgraded sockets keep `server.close()` waiting.
   */
  close(): Promise<void>;
}
