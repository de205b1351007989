import {
  FallbackProvider,
  FetchRequest,
  type JsonRpcPayload,
  JsonRpcProvider,
  type JsonRpcResult,
  Network,
  type Provider,
} from 'ethers';
import { BridgeClientInputError } from './errors';

export interface CreateRpcProvidersOptions {
  /** One or more JSON-RPC URLs of the same chain; reads fail over, broadcasts go to all. */
  urls: readonly string[];
  chainId: bigint;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** Called for every request an endpoint fails (transport error or timeout). */
  onRpcError?: (endpoint: string, error: unknown) => void;
}

export interface RpcProviders {
  /** Reads: the first URL, failing over to the next ones (ethers' FallbackProvider, quorum 1). */
  readonly provider: Provider;
  /** One provider per URL (broadcasts go to each). */
  readonly endpoints: readonly { url: string; provider: JsonRpcProvider }[];
  destroy(): void;
}

/** A JSON-RPC provider that reports transport failures of its endpoint. */
class ObservedJsonRpcProvider extends JsonRpcProvider {
  readonly #onError: ((error: unknown) => void) | undefined;
  constructor(
    request: FetchRequest,
    network: Network,
    onError: ((error: unknown) => void) | undefined,
  ) {
    super(request, network, {
      staticNetwork: network,
      cacheTimeout: -1,
      batchMaxCount: 1,
      polling: false,
    });
    this.#onError = onError;
  }
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    try {
      return await super._send(payload);
    } catch (error) {
      this.#onError?.(error);
      throw error;
    }
  }
}

/** The URL without credentials (user:password@ or a key in the path stays out of logs/metrics). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'invalid-url';
  }
}

/** Providers for one chain over several RPC URLs, with request timeouts and failover. */
export function createRpcProviders(options: CreateRpcProvidersOptions): RpcProviders {
  if (options.urls.length === 0) throw new BridgeClientInputError('At least one RPC URL is needed');
  const network = Network.from(options.chainId);
  const endpoints = options.urls.map((url) => {
    const request = new FetchRequest(url);
    request.timeout = options.timeoutMs ?? 10_000;
    const name = redactUrl(url);
    return {
      url: name,
      provider: new ObservedJsonRpcProvider(request, network, (error) =>
        options.onRpcError?.(name, error),
      ),
    };
  });
  const provider: Provider =
    endpoints.length === 1
      ? endpoints[0]!.provider
      : new FallbackProvider(
          endpoints.map((e, i) => ({
            provider: e.provider,
            priority: i + 1,
            weight: 1,
            stallTimeout: Math.min(2000, options.timeoutMs ?? 10_000),
          })),
          network,
          { quorum: 1, cacheTimeout: -1 },
        );
  return {
    provider,
    endpoints,
    destroy() {
      if (provider !== endpoints[0]?.provider) provider.destroy();
      for (const e of endpoints) e.provider.destroy();
    },
  };
}
