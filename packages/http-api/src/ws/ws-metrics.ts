import { Counter, Gauge, type Registry } from 'prom-client';

/** Why the WebSocket server dropped a client (`synddb_ws_clients_dropped_total{reason}`). */
export const WS_DROP_REASONS = [
  'slow_consumer',
  'heartbeat_timeout',
  'max_clients',
  'max_clients_per_address',
  'rate_limited',
  'too_many_errors',
  'shutdown',
] as const;

/** WebSocket channels (`synddb_ws_messages_sent_total{channel}`); `control` = acks and errors. */
export const WS_CHANNELS = ['sequences', 'rows', 'control'] as const;

/** What `attachSubscriptions` records. */
export interface WsMetrics {
  /** `synddb_ws_clients`: connected WebSocket clients. */
  readonly wsClients: Gauge;
  /** `synddb_ws_connections_total`: WebSocket connections accepted (including ones closed at once for `max_clients`). */
  readonly wsConnections: Counter;
  /** `synddb_ws_messages_sent_total{channel}`: `sequences`, `rows`, `control`. */
  readonly wsMessagesSent: Counter<'channel'>;
  /** `synddb_ws_bytes_sent_total`: payload bytes queued to WebSocket clients. */
  readonly wsBytesSent: Counter;
  /** `synddb_ws_clients_dropped_total{reason}`: see `WS_DROP_REASONS`. */
  readonly wsClientsDropped: Counter<'reason'>;
  /** `synddb_ws_client_errors_total{code}`: malformed or invalid client messages, by error code. */
  readonly wsClientErrors: Counter<'code'>;
  /** `synddb_ws_decode_failures_total`: applied changesets the row stream could not decode. */
  readonly wsDecodeFailures: Counter;
}

/** Creates the WebSocket metrics in `registry`; every reason and channel series exists at once. */
export function createWsMetrics(registry: Registry): WsMetrics {
  const registers = [registry];
  const metrics: WsMetrics = {
    wsClients: new Gauge({
      name: 'synddb_ws_clients',
      help: 'Connected WebSocket clients',
      registers,
    }),
    wsConnections: new Counter({
      name: 'synddb_ws_connections_total',
      help: 'WebSocket connections accepted',
      registers,
    }),
    wsMessagesSent: new Counter({
      name: 'synddb_ws_messages_sent_total',
      help: 'WebSocket messages sent, by channel (control = acks and errors)',
      labelNames: ['channel'],
      registers,
    }),
    wsBytesSent: new Counter({
      name: 'synddb_ws_bytes_sent_total',
      help: 'WebSocket payload bytes sent',
      registers,
    }),
    wsClientsDropped: new Counter({
      name: 'synddb_ws_clients_dropped_total',
      help: 'WebSocket clients closed by the server, by reason',
      labelNames: ['reason'],
      registers,
    }),
    wsClientErrors: new Counter({
      name: 'synddb_ws_client_errors_total',
      help: 'Invalid WebSocket client messages, by error code',
      labelNames: ['code'],
      registers,
    }),
    wsDecodeFailures: new Counter({
      name: 'synddb_ws_decode_failures_total',
      help: 'Applied changesets the row stream could not decode',
      registers,
    }),
  };
  for (const reason of WS_DROP_REASONS) metrics.wsClientsDropped.inc({ reason }, 0);
  for (const channel of WS_CHANNELS) metrics.wsMessagesSent.inc({ channel }, 0);
  return metrics;
}
