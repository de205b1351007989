import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../random/seeded-random';
import { testSeed } from '../random/test-seed';

export interface JsonRpcFaultProxyOptions {
  /** The node to forward to, e.g. anvil's `http://127.0.0.1:8545`. http only. */
  upstream: string;
  /** Share of requests whose connection is dropped without an answer. Default 0. */
  dropRate?: number;
  /**
   * Drop shares by JSON-RPC method, in place of `dropRate` for those methods (e.g.
   * `{ eth_getTransactionReceipt: 1 }`: every receipt lookup fails, nothing else does).
   */
  dropRateByMethod?: Record<string, number>;
  /**
   * Of the dropped requests, the share forwarded first (the node acts, the answer is lost: the
   * hard case for `eth_sendRawTransaction`). Default 0.5.
   */
  dropAfterForwardShare?: number;
  /** Share of requests delayed by up to `maxDelayMs`. Default 0. */
  delayRate?: number;
  maxDelayMs?: number;
  /** Seed label (SYNDDB_TEST_SEED replays a run). */
  seedLabel?: string;
}

export interface JsonRpcFaultProxy {
  url: string;
  /** Requests by JSON-RPC method, and how many were dropped / delayed. */
  stats(): { requests: number; dropped: number; delayed: number; byMethod: Record<string, number> };
  /** Changes the rates while running (0 turns faults off); `dropRateByMethod` is replaced whole. */
  setRates(rates: {
    dropRate?: number;
    delayRate?: number;
    dropRateByMethod?: Record<string, number>;
  }): void;
  close(): Promise<void>;
}

/**
 * A JSON-RPC-aware HTTP proxy in front of an EVM node that drops or delays a seeded share of
 * requests: a drop closes the connection without an answer, before the request reaches the node
 * or after it (the node has acted, the client never hears). Batch requests count as one.
 */
export async function startJsonRpcFaultProxy(
  options: JsonRpcFaultProxyOptions,
): Promise<JsonRpcFaultProxy> {
  const upstream = new URL(options.upstream);
  const random = seededRandom(testSeed(options.seedLabel ?? 'json-rpc-fault-proxy'));
  let dropRate = options.dropRate ?? 0;
  let delayRate = options.delayRate ?? 0;
  let byMethod = new Map(Object.entries(options.dropRateByMethod ?? {}));
  const afterShare = options.dropAfterForwardShare ?? 0.5;
  const maxDelay = options.maxDelayMs ?? 500;
  const stats = { requests: 0, dropped: 0, delayed: 0, byMethod: {} as Record<string, number> };

  const forward = (body: Buffer, req: IncomingMessage) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>(
      (resolve, reject) => {
        const out = httpRequest(
          {
            hostname: upstream.hostname,
            port: upstream.port,
            path: upstream.pathname,
            method: req.method,
            headers: { 'content-type': 'application/json', 'content-length': body.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 502,
                headers: { 'content-type': res.headers['content-type'] ?? 'application/json' },
                body: Buffer.concat(chunks),
              }),
            );
            res.on('error', reject);
          },
        );
        out.on('error', reject);
        out.end(body);
      },
    );

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      stats.requests++;
      let method = 'unknown';
      try {
        const parsed = JSON.parse(body.toString('utf8')) as
          | { method?: string }
          | { method?: string }[];
        method = Array.isArray(parsed) ? 'batch' : (parsed.method ?? 'unknown');
        stats.byMethod[method] = (stats.byMethod[method] ?? 0) + 1;
      } catch {
        // forwarded as is
      }
      const drop = random() < (byMethod.get(method) ?? dropRate);
      const dropAfter = drop && random() < afterShare;
      if (!drop && random() < delayRate) {
        stats.delayed++;
        await new Promise((r) => setTimeout(r, Math.floor(random() * maxDelay)));
      }
      if (drop && !dropAfter) {
        stats.dropped++;
        req.socket.destroy();
        return;
      }
      try {
        const answer = await forward(body, req);
        if (dropAfter) {
          stats.dropped++;
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch {
        req.socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => structuredClone(stats),
    setRates(rates) {
      if (rates.dropRate !== undefined) dropRate = rates.dropRate;
      if (rates.delayRate !== undefined) delayRate = rates.delayRate;
      if (rates.dropRateByMethod !== undefined) {
        byMethod = new Map(Object.entries(rates.dropRateByMethod));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
