import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { countInFlight, listen } from '../http/listen';
import {
  createFaultInjector,
  type FaultInjector,
  type FaultInjectorOptions,
} from './create-fault-injector';
import { type FaultResponse, faultBeforeResponse, sendWithFault } from './deliver-fault';
import type { FaultOperation } from './fault-types';

export interface HttpFaultProxyOptions {
  /** The server to forward to, e.g. the devnet sequencer's `http://127.0.0.1:8433`. http only. */
  upstream: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Names a request's operation for fault rules. Default: the sequencer storage API's routes. */
  classify?: (method: string, path: string) => FaultOperation;
  /** Where the seed of probabilistic rules is printed. Default `console.error`. */
  log?: FaultInjectorOptions['log'];
}

export interface HttpFaultProxyRequest {
  method: string;
  /** Decoded path, without the query. */
  path: string;
  operation: FaultOperation;
}

export interface HttpFaultProxy {
  /** Base URL to give the client instead of the upstream's. */
  url: string;
  port: number;
  /** The fault rules; no rule means a transparent proxy. */
  faults: FaultInjector;
  /** Requests received so far (faulted or not), newest last (up to 10,000). */
  requests(): readonly HttpFaultProxyRequest[];
  /**
   * Requests not yet answered in full whose connection is still open: a stalled, hanging or slow
   * response counts until it ends or the client gives up and closes the connection.
   */
  inFlight(): number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);
const MAX_LOGGED_REQUESTS = 10_000;

/** The proxy cannot be started as asked (e.g. an upstream that is not an http URL). */
export class FaultProxyConfigError extends Error {
  override name = 'FaultProxyConfigError';
}

/**
 * A reverse proxy on loopback that fails requests by rule (`proxy.faults.set([...])`) and passes
 * the rest through byte for byte. Put it between a validator (or any client) and a sequencer's
 * storage API to inject 5xx/429, resets, truncated, slow and stalled bodies.
 *
 * Responses are read whole from the upstream before they are sent on (so a body fault knows the
 * full length); an unreachable upstream is answered with 502.
 */
export async function startHttpFaultProxy(options: HttpFaultProxyOptions): Promise<HttpFaultProxy> {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== 'http:') {
    throw new FaultProxyConfigError(
      `fault proxy upstream must be an http URL, got ${options.upstream}`,
    );
  }
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const classify = options.classify ?? classifySequencerRequest;
  const faults = createFaultInjector({
    name: 'http-fault-proxy',
    ...(options.log ? { log: options.log } : {}),
  });
  const agent = new Agent({ keepAlive: true });
  const log: HttpFaultProxyRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendWithFault(res, plainError(502, String(error)), null);
      else res.destroy();
    });
  });
  const inFlight = countInFlight(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = new URL(req.url ?? '/', 'http://proxy.invalid');
    const path = safeDecode(target.pathname);
    const operation = classify(method, path);
    log.push({ method, path, operation });
    if (log.length > MAX_LOGGED_REQUESTS) log.shift();
    const fault = faults.pick({ operation, method, path });
    if (fault !== null && (await faultBeforeResponse(req, res, fault, plainError))) return;
    const requestBody = await readAll(req);
    let response: FaultResponse;
    try {
      response = await forward(
        method,
        `${basePath}${target.pathname}${target.search}`,
        req.headers,
        requestBody,
      );
    } catch (error) {
      response = plainError(502, `upstream ${options.upstream} failed: ${String(error)}`);
    }
    sendWithFault(res, response, fault);
  }

  function forward(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<FaultResponse> {
    const outgoing: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) outgoing[name] = value;
    }
    if (body.byteLength > 0) outgoing['content-length'] = `${body.byteLength}`;
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers: { ...outgoing, host: upstream.host },
          agent,
        },
        (response) => {
          readAll(response).then((bytes) => {
            const copied: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined && !HOP_BY_HOP.has(name)) copied[name] = value;
            }
            resolve({ status: response.statusCode ?? 502, headers: copied, body: bytes });
          }, reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  const listening = await listen(server, options);
  return {
    url: listening.url,
    port: listening.port,
    faults,
    requests: () => log,
    inFlight,
    close: async () => {
      try {
        await listening.close();
      } finally {
        agent.destroy();
      }
    },
  };
}

/**
 * The sequencer storage API's operations (docs/protocol.md#sequencer-storage-api): `/storage/batches` list,
 * `/storage/batches/{start}` download, `/storage/messages/{seq}` message, `/storage/latest`,
 * `/status`.
 */
export function classifySequencerRequest(method: string, path: string): FaultOperation {
  if (method !== 'GET' && method !== 'HEAD') return 'other';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed.endsWith('/storage/batches')) return 'list';
  if (/\/storage\/batches\/[^/]+$/.test(trimmed)) return 'download';
  if (/\/storage\/messages\/[^/]+$/.test(trimmed)) return 'message';
  if (trimmed.endsWith('/storage/latest')) return 'latest';
  if (trimmed.endsWith('/status')) return 'status';
  return 'other';
}

function plainError(status: number, message: string): FaultResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ error: message })),
  };
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
