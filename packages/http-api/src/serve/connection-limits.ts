import { readdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { HttpApiConfigError } from '../errors';

export interface ConnectionLimitsOptions {
  /**
   * Connections held at once on the servers this is attached to (upgraded WebSockets included).
   * Default `auto`: the process's descriptor limit (RLIMIT_NOFILE, soft) minus the descriptors
   * open now minus `reservedDescriptors`, so a flood of connections can never take the
   * descriptors the applier, SQLite and the query workers need.
   */
  maxConnections?: number | 'auto' | undefined;
  /** Descriptors kept out of `auto`'s reach (replica, WAL, journals, workers, storage). Default 512. */
  reservedDescriptors?: number | undefined;
  /** Connections one client (peer address) may hold. Default 128; 0 = no cap. */
  maxConnectionsPerClient?: number | undefined;
  /**
   * Bytes written to one client's connections and not yet taken by the client (kernel buffers
   * aside). Reads that would need more answer 429 until it reads. Default 64 MiB.
   */
  maxOutputPerClient?: number | undefined;
  /** The same, for all clients together. Default 256 MiB. */
  maxOutputTotal?: number | undefined;
  /** Called when a connection is refused or evicted (for logs and metrics). */
  onRefused?: ((info: { reason: RefusalReason; client: string }) => void) | undefined;
}

export type RefusalReason = 'max_connections' | 'max_connections_per_client' | 'evicted';

interface Tracked {
  socket: Socket;
  client: string;
  /** Requests being answered on it (0: idle keep-alive, or an upgraded socket). */
  busy: number;
}

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxOutputPerClient: number;
  readonly maxOutputTotal: number;
  /** Connections held now. */
  readonly connections: number;
  /** Connections `client` holds now. */
  connectionsOf(client: string): number;
  /** Bytes written to `client`'s connections that it has not read yet (Node's socket buffers). */
  pendingOutputOf(client: string): number;
  /** The same over all clients. */
  pendingOutputTotal(): number;
  /**
   * How many bytes of response `client` may be given now (the smaller of its headroom and the
   * total headroom, reservations counted; <= 0: none until it reads).
   */
  outputHeadroom(client: string): number;
  /**
   * Whether a response of `bytes` may be written to `client` now: false when its own unread
   * output would pass `maxOutputPerClient`. When only the total would pass `maxOutputTotal`, the
   * connections of the clients holding the most unread output are closed first (their buffers
   * freed), so a few clients that never read cannot starve everyone else.
   */
  admitOutput(client: string, bytes: number): boolean;
  /** Starts counting, refusing and evicting the connections `server` accepts. */
  attach(server: Server): () => void;
}

/** The soft RLIMIT_NOFILE of this process (Linux `/proc/self/limits`), or undefined. */
export function descriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m === null || m[1] === 'unlimited') return undefined;
    return Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Descriptors open in this process now (Linux), or undefined. */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

function count(name: string, value: number | undefined, fallback: number, min: number) {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new HttpApiConfigError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

/** `auto`: the descriptor limit minus what is open minus the reserve (at least 16). */
export function autoMaxConnections(reservedDescriptors: number): number {
  const limit = descriptorLimit() ?? 1024;
  const open = openDescriptors() ?? 64;
  return Math.max(16, limit - open - reservedDescriptors);
}

/**
 * Caps connections below the descriptor limit and per client, with eviction for fairness: a
 * new connection at the global cap takes the oldest idle (else oldest) connection of the client
 * holding the most (when that client holds more than the newcomer's + 1); otherwise it is closed
 * at once. Also
 * tracks each client's unread output, so a client that never reads cannot pin more than
 * `maxOutputPerClient` in this process.
 */
export function createConnectionLimits(options: ConnectionLimitsOptions = {}): ConnectionLimits {
  const reserved = count('reservedDescriptors', options.reservedDescriptors, 512, 0);
  const maxConnections =
    options.maxConnections === undefined || options.maxConnections === 'auto'
      ? autoMaxConnections(reserved)
      : count('maxConnections', options.maxConnections, 0, 1);
  const perClient = count('maxConnectionsPerClient', options.maxConnectionsPerClient, 128, 0);
  const maxOutputPerClient = count('maxOutputPerClient', options.maxOutputPerClient, 64 << 20, 1);
  const maxOutputTotal = count('maxOutputTotal', options.maxOutputTotal, 256 << 20, 1);
  const byClient = new Map<string, Set<Tracked>>();

  const bySocket = new Map<Socket, Tracked>();

  const refuse = (socket: Socket, client: string, reason: RefusalReason) => {
    options.onRefused?.({ reason, client });
    socket.destroy();
  };

  const evictFor = (client: string): boolean => {
    const mine = byClient.get(client)?.size ?? 0;
    let victim: Set<Tracked> | undefined;
    for (const set of byClient.values()) {
      if (victim === undefined || set.size > victim.size) victim = set;
    }
    if (victim === undefined || victim.size <= mine + 1) return false;
    // Oldest first (insertion order): an idle one, else (every one busy, e.g. waiting for a
    // far-future min_sequence) the oldest busy one.
    let chosen: Tracked | undefined;
    for (const t of victim) {
      if (t.busy === 0) {
        chosen = t;
        break;
      }
      chosen ??= t;
    }
    if (chosen === undefined) return false;
    refuse(chosen.socket, chosen.client, 'evicted');
    untrack(chosen);
    return true;
  };

  const untrack = (t: Tracked) => {
    if (!bySocket.delete(t.socket)) return;
    const set = byClient.get(t.client);
    set?.delete(t);
    if (set?.size === 0) byClient.delete(t.client);
  };

  const onConnection = (socket: Socket) => {
    const client = socket.remoteAddress ?? 'unknown';
    const held = byClient.get(client)?.size ?? 0;
    if (perClient > 0 && held >= perClient) {
      refuse(socket, client, 'max_connections_per_client');
      return;
    }
    if (bySocket.size >= maxConnections && !evictFor(client)) {
      refuse(socket, client, 'max_connections');
      return;
    }
    const t: Tracked = { socket, client, busy: 0 };
    bySocket.set(socket, t);
    let set = byClient.get(client);
    if (set === undefined) {
      set = new Set();
      byClient.set(client, set);
    }
    set.add(t);
    socket.once('close', () => untrack(t));
  };

  const onRequest = (
    request: { socket: Socket },
    response: { once(e: 'close', f: () => void): unknown },
  ) => {
    const t = bySocket.get(request.socket);
    if (t === undefined) return;
    t.busy++;
    response.once('close', () => {
      t.busy--;
    });
  };

  const pendingOf = (set: Set<Tracked> | undefined) => {
    let bytes = 0;
    if (set !== undefined) for (const t of set) bytes += t.socket.writableLength;
    return bytes;
  };

  return {
    maxConnections,
    maxConnectionsPerClient: perClient,
    maxOutputPerClient,
    maxOutputTotal,
    get connections() {
      return bySocket.size;
    },
    connectionsOf: (client) => byClient.get(client)?.size ?? 0,
    pendingOutputOf: (client) => pendingOf(byClient.get(client)),
    pendingOutputTotal() {
      let bytes = 0;
      for (const t of bySocket.keys()) bytes += t.writableLength;
      return bytes;
    },
    outputHeadroom(client) {
      const mine = maxOutputPerClient - pendingOf(byClient.get(client));
      if (mine <= 0) return mine;
      return Math.min(mine, maxOutputTotal - this.pendingOutputTotal());
    },
    admitOutput(client, bytes) {
      if (maxOutputPerClient - pendingOf(byClient.get(client)) < bytes) return false;
      let total = this.pendingOutputTotal();
      while (total + bytes > maxOutputTotal) {
        let biggest: Set<Tracked> | undefined;
        let most = 0;
        for (const [other, set] of byClient) {
          if (other === client) continue;
          const held = pendingOf(set);
          if (held > most) {
            most = held;
            biggest = set;
          }
        }
        if (biggest === undefined) return false;
        for (const t of [...biggest]) {
          if (t.socket.writableLength > 0) {
            options.onRefused?.({ reason: 'evicted', client: t.client });
            t.socket.destroy();
            untrack(t);
          }
        }
        total -= most;
      }
      return true;
    },
    attach(server) {
      server.on('connection', onConnection);
      server.on('request', onRequest);
      return () => {
        server.off('connection', onConnection);
        server.off('request', onRequest);
      };
    },
  };
}
