import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListenOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
}

/** A server that listens: its base URL, and a close that also ends open (hanging) connections. */
export interface Listening {
  url: string;
  port: number;
  /** Idempotent: a test may close early, and its cleanup close again. */
  close(): Promise<void>;
}

/** Starts `server` listening and resolves once it does (rejects when it cannot). */
export async function listen(server: Server, options: ListenOptions = {}): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive, stalled and hanging connections would otherwise hold close() open.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * Counts requests not yet answered in full whose connection is still open: a stalled, hanging or
 * slow response counts until it ends or the client gives up and closes the connection.
 */
export function countInFlight(server: Server): () => number {
  let inFlight = 0;
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  return () => inFlight;
}
