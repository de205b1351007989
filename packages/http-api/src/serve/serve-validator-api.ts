import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { ListenError } from '../errors';
import { parseBindAddress } from './parse-bind-address';

export interface ServeValidatorApiOptions {
  /** `host:port`, `:port` or `[ipv6]:port` (the reference's `BIND_ADDRESS`). Port 0 = any free port. */
  bindAddress: string;
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
      server = serve({ fetch: app.fetch, hostname: host, port }, () => resolve());
      server.once('error', reject);
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
