import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { HttpApiConfigError } from '../errors';
import type { ValidatorMetrics } from '../metrics/create-validator-metrics';
import { jsonInteger } from '../status/json-integer';
import {
  type Channel,
  type ClientId,
  type ClientMessage,
  ClientMessageError,
  parseClientMessage,
  WS_CLOSE_CODES,
  type WsErrorCode,
} from './protocol';
import {
  type ColumnNamesLookup,
  type ReplicaSchemaSource,
  type RowChange,
  rowChanges,
  SchemaCache,
} from './row-changes';

/** Message type numbers of the wire format: 0 changeset, 1 withdrawal, 2 snapshot. */
const TYPE_NAMES = ['changeset', 'withdrawal', 'snapshot'] as const;

/** One applied message, structurally `AppliedMessage` of `@synddb/sync`. */
export interface AppliedMessageLike {
  sequence: bigint;
  timestamp: bigint;
  messageType: number;
  changesets: readonly Uint8Array[];
}

/**
 * What `attachSubscriptions` listens to: a `SyncEngine` fits. `applied` carries committed
 * messages in sequence order; `snapshot` announces a replica swap (drops the schema cache).
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
   * preferably read-only) or a lookup function. Without it row values are keyed by column
   * position (`"0"`, `"1"`, …).
   */
  replica?: ReplicaSchemaSource | ColumnNamesLookup | null | undefined;
  /** URL path of the WebSocket endpoint. Default `/ws`. */
  path?: string | undefined;
  /** Connected clients allowed; more are closed with 1013 "too many clients". Default 1000. */
  maxClients?: number | undefined;
  /**
   * Per-client send-buffer bound in bytes (data not yet taken by the kernel). A client above it is
   * closed with 4008 "slow consumer". Default 4 MiB.
   */
  maxBufferedBytes?: number | undefined;
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
  metrics?: ValidatorMetrics | undefined;
  logger?: SubscriptionLogger | undefined;
}

export interface SubscriptionClientInfo {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly sequences: boolean;
  readonly rows: { tables: readonly string[] | null; values: boolean } | null;
  readonly bufferedAmount: number;
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

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  readonly remoteAddress: string | undefined;
  sequences: boolean;
  rows: { tables: Set<string> | null; values: boolean } | null;
  alive: boolean;
  errors: number;
  closing: boolean;
  killTimer: NodeJS.Timeout | undefined;
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new HttpApiConfigError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * Serves WebSocket subscriptions to sequence progress and row changes on `server` (the
 * `server` of `serveValidatorApi`) at `options.path`. Row changes are decoded from the applied
 * changesets only while some client subscribes to rows.
 */
export function attachSubscriptions(
  server: UpgradeServer,
  options: AttachSubscriptionsOptions,
): Subscriptions {
  const path = options.path ?? '/ws';
  if (!path.startsWith('/')) throw new HttpApiConfigError(`path must start with "/", got ${path}`);
  const maxClients = positiveInteger('maxClients', options.maxClients, 1000);
  const maxBufferedBytes = positiveInteger(
    'maxBufferedBytes',
    options.maxBufferedBytes,
    4 * 1024 * 1024,
  );
  const maxPayload = positiveInteger('maxPayload', options.maxPayload, 16 * 1024, 64);
  const heartbeatMs = positiveInteger('heartbeatMs', options.heartbeatMs, 30_000, 0);
  const maxTables = positiveInteger('maxTables', options.maxTables, 256);
  const maxErrors = positiveInteger('maxErrors', options.maxErrors, 20);
  const closeGraceMs = positiveInteger('closeGraceMs', options.closeGraceMs, 2000, 0);
  const includeValues = options.includeValues ?? true;
  const { engine, metrics, logger } = options;
  const schema = new SchemaCache(options.replica);
  const limits = { maxTables, maxTableNameLength: 256 };

  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
  const clients = new Map<WebSocket, Client>();
  let nextId = 1;
  let closed = false;

  // ---- sending ----------------------------------------------------------------------------

  const drop = (client: Client, reason: 'slow_consumer' | 'too_many_errors' | 'shutdown') => {
    if (client.closing) return;
    client.closing = true;
    metrics?.wsClientsDropped.inc({ reason });
    const [code, text] =
      reason === 'slow_consumer'
        ? [WS_CLOSE_CODES.slowConsumer, 'slow consumer']
        : reason === 'too_many_errors'
          ? [WS_CLOSE_CODES.tooManyErrors, 'too many invalid messages']
          : [WS_CLOSE_CODES.shutdown, 'server shutting down'];
    if (reason !== 'shutdown') {
      logger?.warn?.('websocket client dropped', {
        client: client.id,
        remoteAddress: client.remoteAddress,
        reason,
        bufferedAmount: client.ws.bufferedAmount,
      });
    }
    client.ws.close(code, text);
    client.killTimer = setTimeout(() => client.ws.terminate(), closeGraceMs);
    client.killTimer.unref();
  };

  const send = (client: Client, channel: Channel | 'control', data: string): void => {
    if (client.closing || client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > maxBufferedBytes) {
      drop(client, 'slow_consumer');
      return;
    }
    client.ws.send(data);
    metrics?.wsMessagesSent.inc({ channel });
    metrics?.wsBytesSent.inc(Buffer.byteLength(data));
  };

  const sendControl = (client: Client, body: Record<string, unknown>) =>
    send(client, 'control', JSON.stringify(body));

  const sendError = (client: Client, code: WsErrorCode, message: string, id?: ClientId) => {
    metrics?.wsClientErrors.inc({ code });
    sendControl(client, { op: 'error', ...(id === undefined ? {} : { id }), code, message });
  };

  // ---- engine events ----------------------------------------------------------------------

  const rowJson = (sequence: number | string, change: RowChange, values: boolean) =>
    JSON.stringify({
      channel: 'rows',
      sequence,
      table: change.table,
      op: change.op,
      pk: change.pk,
      ...(values && change.old !== undefined ? { old: change.old } : {}),
      ...(values && change.new !== undefined ? { new: change.new } : {}),
    });

  const onApplied = (messages: readonly AppliedMessageLike[]) => {
    if (clients.size === 0) return;
    const sequenceClients: Client[] = [];
    const rowClients: Client[] = [];
    for (const client of clients.values()) {
      if (client.closing) continue;
      if (client.sequences) sequenceClients.push(client);
      if (client.rows !== null) rowClients.push(client);
    }
    if (sequenceClients.length === 0 && rowClients.length === 0) return;

    for (const message of messages) {
      const sequence = jsonInteger(message.sequence);
      const type = TYPE_NAMES[message.messageType] ?? 'unknown';
      if (sequenceClients.length > 0) {
        const text = JSON.stringify({
          channel: 'sequences',
          sequence,
          timestamp: jsonInteger(message.timestamp),
          type,
        });
        for (const client of sequenceClients) send(client, 'sequences', text);
      }
      if (rowClients.length === 0) continue;
      if (type === 'snapshot') {
        schema.invalidate();
        const text = JSON.stringify({ channel: 'rows', sequence, op: 'SNAPSHOT' });
        for (const client of rowClients) send(client, 'rows', text);
        continue;
      }
      if (type !== 'changeset') continue;
      for (const changeset of message.changesets) {
        try {
          for (const change of rowChanges(changeset, schema)) {
            let withValues: string | undefined;
            let withoutValues: string | undefined;
            for (const client of rowClients) {
              const rows = client.rows;
              if (rows === null || (rows.tables !== null && !rows.tables.has(change.table))) {
                continue;
              }
              if (rows.values) {
                withValues ??= rowJson(sequence, change, true);
                send(client, 'rows', withValues);
              } else {
                withoutValues ??= rowJson(sequence, change, false);
                send(client, 'rows', withoutValues);
              }
            }
          }
        } catch (error) {
          metrics?.wsDecodeFailures.inc();
          logger?.warn?.('cannot decode an applied changeset for row subscribers', {
            sequence: String(message.sequence),
            error: error instanceof Error ? error.message : String(error),
          });
          for (const client of rowClients) {
            sendError(client, 'DECODE_FAILED', `cannot decode a changeset of sequence ${sequence}`);
          }
        }
      }
    }
  };
  const onSnapshot = () => schema.invalidate();
  engine.on('applied', onApplied);
  engine.on('snapshot', onSnapshot);

  // ---- client messages --------------------------------------------------------------------

  const handle = (client: Client, message: ClientMessage) => {
    const id = message.id === undefined ? {} : { id: message.id };
    if (message.op === 'ping') {
      sendControl(client, { op: 'pong', ...id });
      return;
    }
    if (message.op === 'unsubscribe') {
      const subscribed = message.channel === 'sequences' ? client.sequences : client.rows !== null;
      if (!subscribed) {
        sendError(client, 'NOT_SUBSCRIBED', `not subscribed to ${message.channel}`, message.id);
        return;
      }
      if (message.channel === 'sequences') client.sequences = false;
      else client.rows = null;
      sendControl(client, { op: 'unsubscribed', ...id, channel: message.channel });
      return;
    }
    if (message.channel === 'sequences') {
      client.sequences = true;
      sendControl(client, { op: 'subscribed', ...id, channel: 'sequences' });
      return;
    }
    const values = message.values ?? includeValues;
    client.rows = { tables: message.tables === null ? null : new Set(message.tables), values };
    sendControl(client, {
      op: 'subscribed',
      ...id,
      channel: 'rows',
      tables: message.tables,
      values,
    });
  };

  const onMessage = (client: Client, data: RawData, isBinary: boolean) => {
    client.alive = true;
    if (client.closing) return;
    try {
      if (isBinary) {
        throw new ClientMessageError('BINARY_NOT_SUPPORTED', 'send JSON text frames', undefined);
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      handle(client, parseClientMessage(text, limits));
    } catch (error) {
      if (!(error instanceof ClientMessageError)) throw error;
      client.errors++;
      sendError(client, error.code, error.message, error.id);
      if (client.errors >= maxErrors) drop(client, 'too_many_errors');
    }
  };

  // ---- connections ------------------------------------------------------------------------

  const onConnection = (ws: WebSocket, request: IncomingMessage) => {
    metrics?.wsConnections.inc();
    if (closed) {
      ws.close(WS_CLOSE_CODES.shutdown, 'server shutting down');
      return;
    }
    if (clients.size >= maxClients) {
      metrics?.wsClientsDropped.inc({ reason: 'max_clients' });
      ws.close(WS_CLOSE_CODES.tooManyClients, 'too many clients');
      setTimeout(() => ws.terminate(), closeGraceMs).unref();
      return;
    }
    const client: Client = {
      id: nextId++,
      ws,
      remoteAddress: request.socket.remoteAddress,
      sequences: false,
      rows: null,
      alive: true,
      errors: 0,
      closing: false,
      killTimer: undefined,
    };
    clients.set(ws, client);
    metrics?.wsClients.set(clients.size);
    logger?.debug?.('websocket client connected', {
      client: client.id,
      remoteAddress: client.remoteAddress,
    });
    ws.on('message', (data, isBinary) => onMessage(client, data, isBinary));
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('error', (error) => {
      // Protocol violations (oversized or malformed frames): ws closes the socket itself.
      logger?.debug?.('websocket client error', { client: client.id, error: error.message });
    });
    ws.on('close', (code) => {
      if (client.killTimer !== undefined) clearTimeout(client.killTimer);
      clients.delete(ws);
      metrics?.wsClients.set(clients.size);
      logger?.debug?.('websocket client disconnected', { client: client.id, code });
    });
  };
  wss.on('connection', onConnection);

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const requestPath = queryAt === -1 ? url : url.slice(0, queryAt);
    if (requestPath !== path || closed) {
      // Another upgrade handler may own this path; answer only when there is none.
      if (server.listenerCount('upgrade') <= 1 || closed) {
        socket.end(
          `HTTP/1.1 ${closed ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      }
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  let heartbeat: NodeJS.Timeout | undefined;
  if (heartbeatMs > 0) {
    heartbeat = setInterval(() => {
      for (const client of clients.values()) {
        if (client.closing) continue;
        if (!client.alive) {
          metrics?.wsClientsDropped.inc({ reason: 'heartbeat_timeout' });
          logger?.warn?.('websocket client missed a heartbeat', { client: client.id });
          client.closing = true;
          client.ws.terminate();
          continue;
        }
        client.alive = false;
        client.ws.ping();
      }
    }, heartbeatMs);
    heartbeat.unref();
  }

  let closing: Promise<void> | undefined;
  return {
    clients: () =>
      [...clients.values()].map((c) => ({
        id: c.id,
        remoteAddress: c.remoteAddress,
        sequences: c.sequences,
        rows:
          c.rows === null
            ? null
            : { tables: c.rows.tables === null ? null : [...c.rows.tables], values: c.rows.values },
        bufferedAmount: c.ws.bufferedAmount,
      })),
    close() {
      closing ??= (async () => {
        closed = true;
        server.off('upgrade', onUpgrade);
        engine.off('applied', onApplied);
        engine.off('snapshot', onSnapshot);
        if (heartbeat !== undefined) clearInterval(heartbeat);
        const waits = [...clients.values()].map(
          (client) =>
            new Promise<void>((resolve) => {
              if (client.ws.readyState === WebSocket.CLOSED) return resolve();
              client.ws.once('close', () => resolve());
              if (client.closing) {
                // already closing: make sure it ends within the grace period
                client.killTimer ??= setTimeout(() => client.ws.terminate(), closeGraceMs);
                return;
              }
              drop(client, 'shutdown');
            }),
        );
        await Promise.all(waits);
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}
