import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { ListenError } from '../errors';
import { FAST_PATH, type NodeFastPath } from '../validator-api/query-fast-path';
import type { ConnectionLimits } from './connection-limits';
import { parseBindAddress } from './parse-bind-address';

export interface ServeValidatorApiOptions {
  /** `host:port`, `:port` or `[ipv6]:port` (the reference's `BIND_ADDRESS`). Port 0 = any free port. */
  bindAddress: string;
  /**
   * Connection caps (global, below the descriptor limit; per client, with eviction) and output
   * tracking (`createConnectionLimits`). Share one between servers to cap them together.
   * Default: none.
   */
  connectionLimits?: ConnectionLimits | undefined;
  /**
   * A connection that moves no byte either way for this long is closed: a client that never
   * reads its response (or sends half a request) cannot hold the connection and its unsent
   * output. Default 30 s; 0 = off.
   */
  idleTimeoutMs?: number | undefined;
  /** Time to receive a request's headers (slowloris). Default 10 s. */
  headersTimeoutMs?: number | undefined;
  /** Time to receive a whole request. Default 30 s. */
  requestTimeoutMs?: number | undefined;
  /** Idle keep-alive connections are closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number | undefined;
  /**
   * Answer `POST /query` of a `createValidatorApi` app on Node's request and response objects
   * (same answers, limits and metrics as its Hono route, less CPU). Default true; false sends
   * every request through Hono.
   */
  fastPaths?: boolean | undefined;
}

export interface ServedApi {
  /** Base URL, e.g. `http://127.0.0.1:8080` (`0.0.0.0` / `::` are shown as loopback). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: ServerType;
  /** Stops accepting connections, ends idle and in-flight keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

/** Serves a hono app with Node's HTTP server; rejects with `ListenError` when the bind fails. */
export async function serveValidatorApi(
  app: Pick<Hono, 'fetch'>,
  options: ServeValidatorApiOptions,
): Promise<ServedApi> {
  const { host, port } = parseBindAddress(options.bindAddress);
  let server: ServerType | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const hono = getRequestListener(app.fetch, { hostname: host });
      const fast = (app as { [FAST_PATH]?: NodeFastPath })[FAST_PATH];
      server = createServer(
        {
          headersTimeout: options.headersTimeoutMs ?? 10_000,
          requestTimeout: options.requestTimeoutMs ?? 30_000,
          keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
        },
        fast === undefined || options.fastPaths === false
          ? hono
          : (req, res) => {
              if (!fast(req, res)) void hono(req, res);
            },
      );
      server.once('error', reject);
      server.listen(port, host, () => resolve());
      server.setTimeout(options.idleTimeoutMs ?? 30_000);
      options.connectionLimits?.attach(server);
    });
  } catch (error) {
    server?.close();
    throw new ListenError(options.bindAddress, error);
  }
  const listening = server!;
  const actualPort = (listening.address() as AddressInfo).port;
  const shownHost =
    host === '0.0.0.0'
      ? '127.0.0.1'
      : host === '::'
        ? '[::1]'
        : host.includes(':')
          ? `[${host}]`
          : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${actualPort}`,
    host,
    port: actualPort,
    server: listening,
    close() {
      closing ??= new Promise<void>((resolve) => {
        listening.close(() => resolve());
        if ('closeAllConnections' in listening) listening.closeAllConnections();
      });
      return closing;
    },
  };
}
