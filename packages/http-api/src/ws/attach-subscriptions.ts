// Over ~600 lines: one closure over the subscribers' shared state (slots per address, total
// buffered bytes, the schema and frame caches, the engine listeners). Protocol parsing, row-change
// frames, framing and metrics are already their own modules (protocol.ts, row-changes.ts,
// row-frames.ts, commit-frames.ts, text-frame.ts, ws-metrics.ts); the public types are in
// subscription-types.ts.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { MessageType } from '@synddb/protocol';
import type { AppliedMessage } from '@synddb/sync';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { HttpApiConfigError } from '../errors';
import {
  type Commit,
  CommitFrameCache,
  type Shape,
  shapeKey,
  shapeTablesKey,
} from './commit-frames';
import {
  type ClientId,
  type ClientMessage,
  ClientMessageError,
  parseClientMessage,
  WS_CLOSE_CODES,
  type WsErrorCode,
} from './protocol';
import { SchemaCache, type SchemaView } from './row-changes';
import { RowFrameCache } from './row-frames';
import type {
  AttachSubscriptionsOptions,
  Subscriptions,
  UpgradeServer,
} from './subscription-types';

export type {
  AttachSubscriptionsOptions,
  RowChangesGate,
  SubscriptionClientInfo,
  SubscriptionEventSource,
  SubscriptionLogger,
  Subscriptions,
  UpgradeServer,
} from './subscription-types';

/**
 * One commit (or part of a big one, see `ENTRY_MAX_*`) waiting to be sent, for the clients
 * subscribed to the same channels when it was applied: shared by those clients' queues (at most
 * four entries per part).
 */
interface CommitEntry {
  readonly control?: undefined;
  readonly commit: Commit;
  readonly sequences: boolean;
  readonly rows: boolean;
  /** Messages of the commit (counted against `maxQueue`). */
  readonly count: number;
  /** Counted against `maxBufferedBytes`: the raw changesets (rows only) plus per-message overhead. */
  readonly bytes: number;
}

/**
 * A subscribe or unsubscribe acknowledgement queued behind commits: it goes out after every commit
 * queued before it (see `sendAck`).
 */
interface AckEntry {
  readonly control: Record<string, unknown>;
  readonly count: 1;
  readonly bytes: number;
}

type QueueEntry = CommitEntry | AckEntry;

interface Client {
  readonly id: number;
  readonly ws: WebSocket;
  /** The upgraded socket under `ws`: shared frames are written to it directly (one write each). */
  readonly socket: Duplex;
  readonly remoteAddress: string | undefined;
  sequences: boolean;
  rows: { tables: Set<string> | null; values: boolean; key: string } | null;
  queue: QueueEntry[];
  /** Index of the next entry to send (the queue is compacted now and then). */
  head: number;
  /** Messages in the queue from `head` on. */
  queuedMessages: number;
  queuedBytes: number;
  /** Waiting for the socket to drain below the high-water mark. */
  waiting: boolean;
  /** Write callback: pumps again once a write flushed while `waiting`. */
  readonly resume: () => void;
  scheduled: boolean;
  alive: boolean;
  errors: number;
  closing: boolean;
  killTimer: NodeJS.Timeout | undefined;
  /** Holds an `acquire()` of the row-changes gate. */
  rowsHeld: boolean;
  /** Messages of this client wait for this (a rows subscription waiting for the gate). */
  pending: Promise<void> | undefined;
}

/** Per-message overhead counted against `maxBufferedBytes`. */
const ENTRY_BYTES = 64;
/**
 * A commit is queued in parts of at most this many changeset bytes (or one message) and messages:
 * each part is one socket write, and the high-water mark is checked between parts, so a client's
 * socket buffer grows past it by at most one part's frames.
 */
const ENTRY_MAX_BYTES = 64 * 1024;
const ENTRY_MAX_MESSAGES = 256;

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
  const maxClientsPerAddress = positiveInteger(
    'maxClientsPerAddress',
    options.maxClientsPerAddress,
    16,
    0,
  );
  const maxTotalBufferedBytes = positiveInteger(
    'maxTotalBufferedBytes',
    options.maxTotalBufferedBytes,
    128 * 1024 * 1024,
  );
  const maxQueue = positiveInteger('maxQueue', options.maxQueue, 10_000);
  const maxBufferedBytes = positiveInteger(
    'maxBufferedBytes',
    options.maxBufferedBytes,
    16 * 1024 * 1024,
  );
  const sendHighWaterMark = positiveInteger(
    'sendHighWaterMark',
    options.sendHighWaterMark,
    1024 * 1024,
  );
  const maxPayload = positiveInteger('maxPayload', options.maxPayload, 16 * 1024, 64);
  const heartbeatMs = positiveInteger('heartbeatMs', options.heartbeatMs, 30_000, 0);
  const maxTables = positiveInteger('maxTables', options.maxTables, 256);
  const maxErrors = positiveInteger('maxErrors', options.maxErrors, 20);
  const closeGraceMs = positiveInteger('closeGraceMs', options.closeGraceMs, 2000, 0);
  const includeValues = options.includeValues ?? true;
  const { engine, metrics, logger } = options;
  const schemaCache = new SchemaCache(options.replica);
  const limits = { maxTables, maxTableNameLength: 256 };

  // permessage-deflate stays off: data frames are framed once and written to the sockets as bytes
  // (text-frame.ts), and ws compresses asynchronously, so a compressed ack could go out after data
  // written later.
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
  const clients = new Map<WebSocket, Client>();
  /** Open connections per peer address (upgrades in progress included). */
  const perAddress = new Map<string, number>();
  let nextId = 1;
  let closed = false;

  // ---- sending ----------------------------------------------------------------------------

  const drop = (client: Client, reason: 'slow_consumer' | 'too_many_errors' | 'shutdown') => {
    if (client.closing) return;
    client.closing = true;
    client.queue = [];
    client.head = 0;
    client.queuedMessages = 0;
    client.queuedBytes = 0;
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

  /** Control frames (errors, pongs, acks with nothing queued) go out at once, ahead of queued data. */
  const sendControl = (client: Client, body: Record<string, unknown>) => {
    if (client.closing || client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > maxBufferedBytes) {
      drop(client, 'slow_consumer');
      return;
    }
    const text = JSON.stringify(body);
    client.ws.send(text);
    metrics?.wsMessagesSent.inc({ channel: 'control' });
    metrics?.wsBytesSent.inc(Buffer.byteLength(text));
  };

  /**
   * Subscription acks keep their place behind the commits already queued for the client: a commit
   * applied before a `subscribe` was handled is queued without that channel, and sent after the ack
   * it would break "every commit after the ack carries the channel". (Commits queued before an
   * `unsubscribe` go out before its ack, without the channel: what a client gets of a channel always
   * follows its current subscription.) Pongs and errors still go out at once.
   */
  const sendAck = (client: Client, body: Record<string, unknown>) => {
    if (client.head >= client.queue.length) {
      sendControl(client, body);
      return;
    }
    if (client.closing) return;
    const entry: AckEntry = { control: body, count: 1, bytes: ENTRY_BYTES };
    client.queue.push(entry);
    client.queuedMessages += entry.count;
    client.queuedBytes += entry.bytes;
    if (client.queuedMessages > maxQueue) {
      drop(client, 'slow_consumer');
      return;
    }
    schedule(client);
  };

  const sendError = (client: Client, code: WsErrorCode, message: string, id?: ClientId) => {
    metrics?.wsClientErrors.inc({ code });
    sendControl(client, { op: 'error', ...(id === undefined ? {} : { id }), code, message });
  };

  // ---- frames -------------------------------------------------------------------------------

  const rowFrames = new RowFrameCache((message, error) => {
    metrics?.wsDecodeFailures.inc();
    logger?.warn?.('cannot decode an applied changeset for row subscribers', {
      sequence: String(message.sequence),
      error: error.message,
    });
  });
  const commitFrames = new CommitFrameCache(rowFrames, () => schemaCache.current());

  /**
   * Writes one queued commit: the frames its shape gets (what the client subscribes to now, of
   * the channels it subscribed to when the commit was applied), built once per commit and shape
   * and shared by every client of that shape. Returns whether anything was written.
   */
  const sendEntry = (client: Client, entry: QueueEntry): boolean => {
    if (entry.control !== undefined) {
      sendControl(client, entry.control);
      return true;
    }
    const shape: Shape = {
      sequences: entry.sequences && client.sequences,
      rows: entry.rows ? client.rows : null,
    };
    if (!shape.sequences && shape.rows === null) return false;
    const output = commitFrames.output(
      entry.commit,
      shape,
      shapeKey(shape, client.rows?.key ?? ''),
    );
    if (output.data.length === 0) return false;
    client.socket.write(output.data, client.resume);
    if (metrics !== undefined) {
      if (output.sequences > 0)
        metrics.wsMessagesSent.inc({ channel: 'sequences' }, output.sequences);
      if (output.rows > 0) metrics.wsMessagesSent.inc({ channel: 'rows' }, output.rows);
      if (output.decodeErrors > 0) {
        metrics.wsMessagesSent.inc({ channel: 'control' }, output.decodeErrors);
        metrics.wsClientErrors.inc({ code: 'DECODE_FAILED' }, output.decodeErrors);
      }
      metrics.wsBytesSent.inc(output.sequencesBytes + output.rowsBytes + output.controlBytes);
    }
    return true;
  };

  /**
   * Writes queued commits while the socket buffer is below the high-water mark: one write per
   * commit, corked so that the commits of one pump leave in one system call.
   */
  const pump = (client: Client): void => {
    client.scheduled = false;
    if (client.waiting) return;
    let corked = false;
    while (client.head < client.queue.length) {
      if (client.closing || client.ws.readyState !== WebSocket.OPEN || client.socket.destroyed) {
        break;
      }
      const entry = client.queue[client.head]!;
      client.queue[client.head] = undefined as never;
      client.head++;
      client.queuedMessages -= entry.count;
      client.queuedBytes -= entry.bytes;
      if (!corked) {
        client.socket.cork();
        corked = true;
      }
      if (sendEntry(client, entry) && client.ws.bufferedAmount >= sendHighWaterMark) {
        client.waiting = true;
        break;
      }
    }
    if (corked) client.socket.uncork();
    if (client.head > 1024 && client.head * 2 > client.queue.length) {
      client.queue = client.queue.slice(client.head);
      client.head = 0;
    }
  };

  const schedule = (client: Client) => {
    if (client.scheduled || client.waiting) return;
    client.scheduled = true;
    setImmediate(() => pump(client));
  };

  // ---- engine events ----------------------------------------------------------------------

  /**
   * Queues the commit for every subscribed client: one shared entry per channel combination and
   * part (one part unless the commit is big), so a client costs O(1) per commit here, and nothing
   * more while it waits for its socket to drain.
   */
  const onApplied = (messages: readonly AppliedMessage[]) => {
    if (clients.size === 0 || messages.length === 0) return;
    let anyRows = false;
    for (const client of clients.values()) {
      if (!client.closing && client.rows !== null) anyRows = true;
    }
    let view: SchemaView | undefined;
    const schemas = messages.map((message) => {
      if (message.messageType === MessageType.Snapshot) {
        schemaCache.invalidate();
        view = undefined;
      } else if (anyRows && message.messageType === MessageType.Changeset) {
        view ??= schemaCache.current();
        return view;
      }
      return undefined;
    });
    const sizes = messages.map((m) => m.changesets.reduce((n, c) => n + c.byteLength, 0));
    for (let from = 0, to = 0; from < messages.length; from = to) {
      let changesetBytes = sizes[from]!;
      to = from + 1;
      while (
        to < messages.length &&
        to - from < ENTRY_MAX_MESSAGES &&
        changesetBytes + sizes[to]! <= ENTRY_MAX_BYTES
      ) {
        changesetBytes += sizes[to]!;
        to++;
      }
      const whole = from === 0 && to === messages.length;
      enqueue(
        {
          messages: whole ? messages : messages.slice(from, to),
          schemas: whole ? schemas : schemas.slice(from, to),
        },
        changesetBytes,
      );
    }
    enforceTotalBudget();
  };

  /** Queues one part of a commit for every subscribed client. */
  const enqueue = (commit: Commit, changesetBytes: number) => {
    const count = commit.messages.length;
    const entries: (QueueEntry | undefined)[] = [];
    const entryFor = (sequences: boolean, rows: boolean): QueueEntry => {
      const at = (sequences ? 1 : 0) + (rows ? 2 : 0);
      entries[at] ??= {
        commit,
        sequences,
        rows,
        count,
        bytes: count * ENTRY_BYTES + (rows ? changesetBytes : 0),
      };
      return entries[at];
    };
    for (const client of clients.values()) {
      if (client.closing || (!client.sequences && client.rows === null)) continue;
      const entry = entryFor(client.sequences, client.rows !== null);
      client.queue.push(entry);
      client.queuedMessages += entry.count;
      client.queuedBytes += entry.bytes;
      if (
        client.queuedMessages > maxQueue ||
        client.queuedBytes + client.ws.bufferedAmount > maxBufferedBytes
      ) {
        drop(client, 'slow_consumer');
        continue;
      }
      schedule(client);
    }
  };

  /** Drops the biggest holders until all clients together hold at most the total budget. */
  const enforceTotalBudget = () => {
    let total = 0;
    for (const client of clients.values()) {
      if (!client.closing) total += client.queuedBytes + client.ws.bufferedAmount;
    }
    if (total <= maxTotalBufferedBytes) return;
    const holders: [Client, number][] = [];
    for (const client of clients.values()) {
      if (!client.closing) holders.push([client, client.queuedBytes + client.ws.bufferedAmount]);
    }
    holders.sort((a, b) => b[1] - a[1]);
    for (const [client, held] of holders) {
      if (total <= maxTotalBufferedBytes) return;
      drop(client, 'slow_consumer');
      total -= held;
    }
  };
  const onSnapshot = () => schemaCache.invalidate();
  engine.on('applied', onApplied);
  engine.on('snapshot', onSnapshot);

  // ---- client messages --------------------------------------------------------------------

  const gate = options.rowChanges;
  gate?.onLost(() => {
    for (const client of clients.values()) if (client.rows !== null) drop(client, 'slow_consumer');
  });
  const releaseRows = (client: Client) => {
    if (!client.rowsHeld) return;
    client.rowsHeld = false;
    gate?.release();
  };

  const handle = (client: Client, message: ClientMessage): Promise<void> | undefined => {
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
      else {
        client.rows = null;
        releaseRows(client);
      }
      sendAck(client, { op: 'unsubscribed', ...id, channel: message.channel });
      return;
    }
    if (message.channel === 'sequences') {
      client.sequences = true;
      sendAck(client, { op: 'subscribed', ...id, channel: 'sequences' });
      return;
    }
    const values = message.values ?? includeValues;
    const subscribe = () => {
      const tables = message.tables === null ? null : new Set(message.tables);
      client.rows = { tables, values, key: shapeTablesKey(tables) };
      sendAck(client, {
        op: 'subscribed',
        ...id,
        channel: 'rows',
        tables: message.tables,
        values,
      });
    };
    if (gate === undefined || client.rowsHeld) {
      subscribe();
      return undefined;
    }
    return gate.acquire().then(
      () => {
        client.rowsHeld = true;
        if (client.closing) releaseRows(client);
        else subscribe();
      },
      // the source is going away (shutting down)
      () => drop(client, 'shutdown'),
    );
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
      const message = parseClientMessage(text, limits);
      if (client.pending !== undefined) {
        // in order, after the rows subscription that waits for the gate
        const pending = client.pending.then(() => handle(client, message));
        client.pending = pending;
        void pending.then(() => {
          if (client.pending === pending) client.pending = undefined;
        });
        return;
      }
      const pending = handle(client, message);
      if (pending !== undefined) {
        client.pending = pending;
        void pending.then(() => {
          if (client.pending === pending) client.pending = undefined;
        });
      }
    } catch (error) {
      if (!(error instanceof ClientMessageError)) throw error;
      client.errors++;
      sendError(client, error.code, error.message, error.id);
      if (client.errors >= maxErrors) drop(client, 'too_many_errors');
    }
  };

  // ---- connections ------------------------------------------------------------------------

  const onConnection = (ws: WebSocket, request: IncomingMessage, socket: Duplex) => {
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
      socket,
      remoteAddress: request.socket.remoteAddress,
      sequences: false,
      rows: null,
      queue: [],
      head: 0,
      queuedMessages: 0,
      queuedBytes: 0,
      waiting: false,
      resume: () => {
        if (!client.waiting) return;
        client.waiting = false;
        pump(client);
      },
      scheduled: false,
      alive: true,
      errors: 0,
      closing: false,
      killTimer: undefined,
      rowsHeld: false,
      pending: undefined,
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
      client.queue = [];
      client.closing = true;
      releaseRows(client);
      clients.delete(ws);
      metrics?.wsClients.set(clients.size);
      logger?.debug?.('websocket client disconnected', { client: client.id, code });
    });
  };

  const refuseUpgrade = (socket: Duplex, status: string, extra = '') => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
    // A client that does not take the answer does not keep the socket.
    setTimeout(() => socket.destroy(), closeGraceMs).unref();
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const requestPath = queryAt === -1 ? url : url.slice(0, queryAt);
    if (requestPath !== path || closed) {
      // Another upgrade handler may own this path; answer only when there is none.
      if (server.listenerCount('upgrade') <= 1 || closed) {
        refuseUpgrade(socket, closed ? '503 Service Unavailable' : '404 Not Found');
      }
      return;
    }
    const address = request.socket.remoteAddress ?? 'unknown';
    if (options.rateLimit?.enabled && !options.rateLimit.take(address).allowed) {
      metrics?.wsClientsDropped.inc({ reason: 'rate_limited' });
      refuseUpgrade(socket, '429 Too Many Requests', 'Retry-After: 1\r\n');
      return;
    }
    const held = perAddress.get(address) ?? 0;
    if (maxClientsPerAddress > 0 && held >= maxClientsPerAddress) {
      metrics?.wsClientsDropped.inc({ reason: 'max_clients_per_address' });
      refuseUpgrade(socket, '429 Too Many Requests', 'Retry-After: 1\r\n');
      return;
    }
    perAddress.set(address, held + 1);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    // The socket handed to ws stays ours to write shared frames to (see `pump`).
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request, socket));
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
        closing: c.closing,
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
