import type { Log } from 'ethers';
import { BridgeChainConfigError, BridgeChainResponseError } from '../errors';
import type { BridgeCompletion, WithdrawalLedger } from '../ledger/withdrawal-ledger';

/** topic0 of `MessageHandled(bytes32 indexed messageId, bool success)`. */
export const MESSAGE_HANDLED_TOPIC =
  '0xaf347853e567f8020a953d5b1521409b15245ab29055cc71e8785dc5c6d3260b';

const HEX32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TRUE_WORD = `0x${'0'.repeat(63)}1`;
const FALSE_WORD = `0x${'0'.repeat(64)}`;

export interface FollowBridgeCompletionsOptions {
  ledger: WithdrawalLedger;
  /** JSON-RPC URL of the Bridge's chain (http or https). */
  rpcUrl: string;
  /** The Bridge contract. */
  bridge: string;
  /** Expected chain id: the follower refuses an RPC endpoint of another chain. */
  chainId: bigint;
  /** Blocks behind the head that are considered final (reorg safety). Default 12. */
  confirmations?: number;
  /** First block to scan on the first run; default the confirmed head at that time. */
  startBlock?: bigint | undefined;
  /** Most blocks per `eth_getLogs` (halved on errors, down to 1). Default 2000. */
  maxBlockRange?: number;
  /** Delay between polls. Default 2000 ms. */
  pollIntervalMs?: number;
  /** Per-request timeout. Default 10000 ms. */
  requestTimeoutMs?: number;
  /**
   * Whether the ledger may be written now. The replica's writer connection is shared with the sync
   * engine; default: not while it has a transaction open.
   */
  canWrite?: () => boolean;
  /** After each recorded range: new completions of accepted withdrawals, and the cursor. */
  onProgress?: (event: { completed: string[]; added: number; blockNumber: bigint }) => void;
  /** A failed poll (it is retried after the interval). */
  onError?: (error: Error) => void;
}

export interface BridgeCompletionFollower {
  /** One poll: scans the confirmed blocks after the cursor. Resolves with new completions of withdrawals. */
  poll(): Promise<string[]>;
  /** Polls every `pollIntervalMs` until `close`. */
  start(): void;
  /** Stops polling and waits for a running poll. Idempotent. */
  close(): Promise<void>;
}

function checkLog(log: Log, bridge: string, from: number, to: number): BridgeCompletion | null {
  const where = `log ${String(log.index)} of block ${String(log.blockNumber)}`;
  if (
    typeof log.address !== 'string' ||
    log.address.toLowerCase() !== bridge ||
    !Array.isArray(log.topics) ||
    log.topics.length !== 2 ||
    String(log.topics[0]).toLowerCase() !== MESSAGE_HANDLED_TOPIC ||
    !HEX32.test(String(log.topics[1])) ||
    !Number.isSafeInteger(log.blockNumber) ||
    log.blockNumber < from ||
    log.blockNumber > to ||
    typeof log.transactionHash !== 'string' ||
    !HEX32.test(log.transactionHash)
  ) {
    throw new BridgeChainResponseError('The RPC endpoint returned a malformed MessageHandled log', {
      details: `${where}, requested blocks ${from}..${to}`,
    });
  }
  if (log.removed) return null;
  const data = String(log.data).toLowerCase();
  if (data !== TRUE_WORD && data !== FALSE_WORD) {
    throw new BridgeChainResponseError('MessageHandled data is not one ABI bool', {
      details: where,
    });
  }
  // The Bridge only emits success = true; a false would not complete the message.
  if (data === FALSE_WORD) return null;
  return {
    messageId: String(log.topics[1]).toLowerCase(),
    blockNumber: BigInt(log.blockNumber),
    transactionHash: log.transactionHash.toLowerCase(),
  };
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Follows the Bridge's `MessageHandled` events and records them in the ledger, so signed
 * withdrawals leave the pending lists once completed on-chain. Ranged `eth_getLogs` polling over
 * confirmed blocks only (head minus `confirmations`: a reorg shallower than that never reaches the
 * ledger); the block cursor is kept in the replica and moves in the same transaction as the
 * completions it covers, so a restart resumes exactly after the last recorded block.
 */
export function followBridgeCompletions(
  options: FollowBridgeCompletionsOptions,
): BridgeCompletionFollower {
  const { ledger, chainId } = options;
  const bridge = options.bridge.toLowerCase();
  const confirmations = options.confirmations ?? 12;
  const maxRange = options.maxBlockRange ?? 2000;
  const interval = options.pollIntervalMs ?? 2000;
  const timeout = options.requestTimeoutMs ?? 10_000;
  const canWrite = options.canWrite ?? (() => !ledger.db.inTransaction);
  if (!ADDRESS.test(bridge)) {
    throw new BridgeChainConfigError('Bridge address is not 0x + 40 hex', {
      details: options.bridge,
    });
  }
  for (const [name, value, min] of [
    ['confirmations', confirmations, 0],
    ['maxBlockRange', maxRange, 1],
    ['pollIntervalMs', interval, 1],
    ['requestTimeoutMs', timeout, 1],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new BridgeChainConfigError(`${name} must be an integer of at least ${min}`, {
        details: `got ${String(value)}`,
      });
    }
  }
  if (!/^https?:\/\//i.test(options.rpcUrl)) {
    throw new BridgeChainConfigError('The Bridge RPC URL must be http(s)');
  }

  let provider: import('ethers').JsonRpcProvider | undefined;
  let chainChecked = false;
  let range = maxRange;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function connect(): Promise<import('ethers').JsonRpcProvider> {
    if (provider !== undefined) return provider;
    // Loaded on first use: validators without an RPC URL never load ethers.
    const { FetchRequest, JsonRpcProvider, Network } = await import('ethers');
    const request = new FetchRequest(options.rpcUrl);
    request.timeout = timeout;
    provider = new JsonRpcProvider(request, Network.from(chainId), {
      staticNetwork: true,
      batchMaxCount: 1,
    });
    return provider;
  }

  async function pollOnce(): Promise<string[]> {
    const p = await connect();
    if (!chainChecked) {
      const reported = BigInt(String(await p.send('eth_chainId', [])));
      if (reported !== chainId) {
        throw new BridgeChainConfigError('The Bridge RPC endpoint is on another chain', {
          details: `eth_chainId ${reported}, BRIDGE_CHAIN_ID ${chainId}`,
        });
      }
      chainChecked = true;
    }
    const head = await p.getBlockNumber();
    if (!Number.isSafeInteger(head) || head < 0) {
      throw new BridgeChainResponseError('The RPC endpoint returned a malformed block number', {
        details: String(head),
      });
    }
    const confirmed = head - confirmations;
    if (confirmed < 0) return [];
    const cursor = ledger.chainCursor();
    const sameChain = cursor !== null && cursor.chainId === chainId && cursor.bridge === bridge;
    let from =
      sameChain && cursor !== null
        ? Number(cursor.blockNumber) + 1
        : Number(options.startBlock ?? BigInt(confirmed));
    const completed: string[] = [];
    while (from <= confirmed && !closed) {
      const to = Math.min(from + range - 1, confirmed);
      let logs: Log[];
      try {
        logs = await p.getLogs({
          address: bridge,
          topics: [MESSAGE_HANDLED_TOPIC],
          fromBlock: from,
          toBlock: to,
        });
      } catch (error) {
        // Providers cap ranges and result sizes: narrow the range and try again.
        if (range > 1) {
          range = Math.max(1, Math.floor(range / 2));
          continue;
        }
        throw error;
      }
      if (!Array.isArray(logs)) {
        throw new BridgeChainResponseError('eth_getLogs did not return an array');
      }
      const found: BridgeCompletion[] = [];
      for (const log of logs) {
        const completion = checkLog(log, bridge, from, to);
        if (completion !== null) found.push(completion);
      }
      if (!canWrite()) break; // the sync engine holds the writer: record on the next poll
      const result = ledger.recordCompletions(found, {
        chainId,
        bridge,
        blockNumber: BigInt(to),
      });
      completed.push(...result.withdrawals);
      options.onProgress?.({
        completed: result.withdrawals,
        added: result.added,
        blockNumber: BigInt(to),
      });
      from = to + 1;
      if (range < maxRange) range = Math.min(maxRange, range * 2);
    }
    return completed;
  }

  const follower: BridgeCompletionFollower = {
    poll() {
      const run = (running ?? Promise.resolve()).then(() => pollOnce());
      running = run.catch(() => undefined);
      return run;
    },
    start() {
      const loop = () => {
        if (closed) return;
        follower
          .poll()
          .catch((error: unknown) => options.onError?.(toError(error)))
          .finally(() => {
            if (!closed) timer = setTimeout(loop, interval);
          });
      };
      loop();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
      provider?.destroy();
    },
  };
  return follower;
}
