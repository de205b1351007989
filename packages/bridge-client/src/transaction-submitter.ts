import { setTimeout as sleep } from 'node:timers/promises';
import { type Provider, Transaction, type TransactionReceipt, type Wallet } from 'ethers';
import { decodeRevert, formatRevert } from './decode-revert';
import { BridgeCallError, type DecodedRevert, FeeCapExceededError } from './errors';
import type { RpcProviders } from './rpc-providers';

/** A signed transaction, as journaled before it is broadcast. */
export interface JournaledTransaction {
  hash: string;
  nonce: number;
  /** The raw signed transaction (`0x` hex): rebroadcast as is after a restart. */
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  gasLimit: bigint;
}

/** Persistence hooks: `signed` must store the transaction durably before it returns. */
export interface SubmitJournal {
  signed(tx: JournaledTransaction): void | Promise<void>;
  broadcast?(tx: JournaledTransaction): void | Promise<void>;
  /** Every endpoint refused the transaction: it will never be mined and its nonce is reused. */
  rejected?(tx: JournaledTransaction, detail: string): void | Promise<void>;
}

export interface TransactionRequest {
  to: string;
  data: string;
  value?: bigint;
}

export interface MinedReceipt {
  hash: string;
  success: boolean;
  blockNumber: number;
  gasUsed: bigint;
  effectiveGasPrice: bigint;
}

export type SendOutcome =
  | {
      status: 'mined';
      /** The version of the transaction that was mined. */
      tx: JournaledTransaction;
      receipt: MinedReceipt;
    }
  /**
   * The nonce was filled with a no-op self-transfer (`tx`): the journaled transaction was refused
   * by every node after a restart, or would now revert. Nothing of the request ran: re-read the
   * chain, then retry.
   */
  | { status: 'filled'; nonce: number; tx: JournaledTransaction; receipt: MinedReceipt }
  /** The nonce was used by a transaction that is none of ours: re-read the chain, then retry. */
  | { status: 'nonce_consumed'; nonce: number };

export interface CreateSubmitterOptions {
  rpc: RpcProviders;
  /** The relayer's key (not connected to a provider). Never logged. */
  wallet: Wallet;
  chainId: bigint;
  /** Highest `maxFeePerGas` ever signed, in wei; above it `send` throws `FeeCapExceededError`. */
  maxFeePerGas?: bigint;
  /** A transaction not mined after this long is replaced with fees +12.5% or more. Default 30 s. */
  replaceAfterMs?: number;
  /** Receipt polling interval. Default 500 ms. */
  pollIntervalMs?: number;
  /** Gas limit = estimate × this / 100. Default 130. */
  gasLimitPercent?: number;
  onReplaced?: (previous: JournaledTransaction, next: JournaledTransaction) => void;
  /** A replacement was due but the fee cap left no room for +12.5%. */
  onFeeCapped?: (tx: JournaledTransaction, required: bigint) => void;
}

export interface TransactionSubmitter {
  readonly address: string;
  readonly provider: Provider;
  /** `eth_estimateGas` as the relayer: throws `BridgeCallError` with the decoded revert. */
  simulate(request: TransactionRequest): Promise<bigint>;
  /**
   * Simulates, signs (journal first), broadcasts and waits until mined (replacing as needed).
   * `gasEstimate`: the result of a `simulate` of this request just before, to skip a second one.
   */
  send(
    request: TransactionRequest,
    journal: SubmitJournal,
    options?: { signal?: AbortSignal; gasEstimate?: bigint },
  ): Promise<SendOutcome>;
  /**
   * Continues a journaled transaction after a restart: checks the receipts of every version,
   * rebroadcasts the latest and waits as `send` does. The nonce is never left unused (a gap
   * would hold every later transaction of the account): a version no node knows whose call would
   * now revert, or one every node refuses and whose re-priced copy is refused too, is replaced by
   * a no-op self-transfer at the same nonce (outcome `filled`); one refused but still valid is
   * re-signed at the same nonce with the current fees.
   */
  resume(
    versions: readonly JournaledTransaction[],
    journal: SubmitJournal,
    options?: { signal?: AbortSignal },
  ): Promise<SendOutcome>;
  /**
   * Next nonce at least `minimum` (one past the highest journaled nonce still pending). Nonces
   * below it that are neither mined nor in `live` (the journaled pending ones) are gaps: they are
   * handed out first, so later transactions do not wait behind them.
   */
  reserveNoncesBelow(minimum: number, live?: Iterable<number>): void;
  /**
   * Why a mined transaction reverted: its call re-run with `eth_call` at its block (then the block
   * before), decoded; `OutOfGas` when it used its whole gas limit; null when it cannot be told.
   */
  explainRevert(tx: JournaledTransaction, receipt: MinedReceipt): Promise<DecodedRevert | null>;
  balance(): Promise<bigint>;
}

const REPLACEMENT_PERCENT = 1125n; // per mille: +12.5 %, the minimum nodes accept

const bump = (value: bigint) => (value * REPLACEMENT_PERCENT + 999n) / 1000n;
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Texts of node errors meaning the transaction was not (and will not be) accepted. */
const REJECTED =
  /insufficient funds|intrinsic gas too low|exceeds block gas limit|invalid sender|max fee per gas less than block base fee|fee cap less than block base fee|gas limit reached|transaction type not supported|invalid chain id/i;
/** The node already has this transaction or one with its nonce mined. */
const KNOWN = /already known|known transaction|already imported|AlreadyKnown/i;
const NONCE_LOW = /nonce too low|nonce has already been used|NONCE_EXPIRED|oldnonce/i;
const UNDERPRICED = /underpriced|replacement fee too low|REPLACEMENT_UNDERPRICED/i;

function messageOf(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string; info?: unknown; error?: unknown };
  return [e.shortMessage, e.message, JSON.stringify(e.info ?? e.error ?? null)].join(' ');
}

/**
 * An EIP-1559 transaction submitter for one relayer account: simulates with `eth_estimateGas`
 * (decoding custom errors), takes fees from the node and refuses to sign above the cap, hands
 * every signed transaction to the journal before broadcasting it to every RPC URL, waits for the
 * receipt, and replaces a transaction not mined in time with the same nonce and fees at least
 * +12.5%. Nonces are tracked locally (never below the chain's) so concurrent sends do not collide;
 * a nonce whose transaction every node refused is handed out again.
 */
export function createTransactionSubmitter(options: CreateSubmitterOptions): TransactionSubmitter {
  const { provider } = options.rpc;
  const address = options.wallet.address;
  const replaceAfterMs = options.replaceAfterMs ?? 30_000;
  const pollMs = options.pollIntervalMs ?? 500;
  const gasPercent = BigInt(options.gasLimitPercent ?? 130);
  let nextNonce: number | undefined;
  let reservedBelow = 0;
  /** Journaled pending nonces below `reservedBelow`; the others there are gaps to fill first. */
  let reservedLive: Set<number> | null = null;
  const freeNonces = new Set<number>();
  let lock: Promise<void> = Promise.resolve();

  const withLock = async <T>(run: () => Promise<T>): Promise<T> => {
    const previous = lock;
    let release!: () => void;
    lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await run();
    } finally {
      release();
    }
  };

  async function allocateNonce(): Promise<number> {
    // the chain's count is read when the local one is unknown (first send, after "nonce too
    // low") or freed nonces wait: otherwise nonces are local (one round trip less per send,
    // under the lock)
    if (nextNonce !== undefined && freeNonces.size === 0 && reservedLive === null) {
      const n = Math.max(nextNonce, reservedBelow);
      nextNonce = n + 1;
      return n;
    }
    const chain = await provider.getTransactionCount(address, 'latest');
    if (reservedLive !== null) {
      // once after a restart: the unused nonces between the chain's and the journal's highest
      for (let n = chain; n < reservedBelow; n++) if (!reservedLive.has(n)) freeNonces.add(n);
      reservedLive = null;
    }
    for (const n of [...freeNonces].sort((a, b) => a - b)) {
      freeNonces.delete(n);
      if (n >= chain) return n;
    }
    const n = Math.max(nextNonce ?? 0, chain, reservedBelow);
    nextNonce = n + 1;
    return n;
  }

  async function simulate(request: TransactionRequest): Promise<bigint> {
    try {
      return await provider.estimateGas({
        from: address,
        to: request.to,
        data: request.data,
        value: request.value ?? 0n,
      });
    } catch (error) {
      const revert = decodeRevert(error);
      if (revert !== null) {
        throw new BridgeCallError(`Simulation reverts: ${formatRevert(revert)}`, {
          revert,
          permanent: revert.permanent,
          cause: error,
        });
      }
      const text = messageOf(error);
      throw new BridgeCallError('Simulation failed', {
        permanent: false,
        cause: error,
        details: /insufficient funds/i.test(text) ? 'insufficient funds' : undefined,
      });
    }
  }

  async function fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const data = await provider.getFeeData();
    const priority = data.maxPriorityFeePerGas ?? data.gasPrice ?? 1_000_000_000n;
    const maxFee = data.maxFeePerGas ?? (data.gasPrice ?? priority) * 2n;
    return { maxFeePerGas: max(maxFee, priority), maxPriorityFeePerGas: priority };
  }

  async function sign(
    request: TransactionRequest,
    nonce: number,
    gasLimit: bigint,
    fee: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  ): Promise<JournaledTransaction> {
    const tx = Transaction.from({
      type: 2,
      chainId: options.chainId,
      nonce,
      to: request.to,
      data: request.data,
      value: request.value ?? 0n,
      gasLimit,
      maxFeePerGas: fee.maxFeePerGas,
      maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
    });
    const raw = await options.wallet.signTransaction(tx);
    const signed = Transaction.from(raw);
    return {
      hash: signed.hash!,
      nonce,
      raw,
      gasLimit,
      maxFeePerGas: fee.maxFeePerGas,
      maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
    };
  }

  /**
   * Sends the raw transaction to every endpoint. 'accepted' once one took it (or knew it),
   * 'rejected' when every endpoint answered with a definite refusal, 'unknown' otherwise.
   */
  async function broadcast(
    tx: JournaledTransaction,
  ): Promise<{ outcome: 'accepted' | 'rejected' | 'unknown' | 'nonce_low'; detail: string }> {
    const answers = await Promise.all(
      options.rpc.endpoints.map(async (e) => {
        try {
          await e.provider.broadcastTransaction(tx.raw);
          return { kind: 'accepted' as const, detail: '' };
        } catch (error) {
          const text = messageOf(error);
          if (KNOWN.test(text)) return { kind: 'accepted' as const, detail: text };
          if (NONCE_LOW.test(text)) return { kind: 'nonce_low' as const, detail: text };
          if (UNDERPRICED.test(text)) return { kind: 'underpriced' as const, detail: text };
          if (REJECTED.test(text)) return { kind: 'rejected' as const, detail: text };
          return { kind: 'unknown' as const, detail: text };
        }
      }),
    );
    if (answers.some((a) => a.kind === 'accepted')) return { outcome: 'accepted', detail: '' };
    if (answers.some((a) => a.kind === 'nonce_low')) {
      return { outcome: 'nonce_low', detail: answers.find((a) => a.kind === 'nonce_low')!.detail };
    }
    // underpriced: an earlier version holds the nonce in the pool; it stays live
    if (answers.some((a) => a.kind === 'underpriced' || a.kind === 'unknown')) {
      return { outcome: 'unknown', detail: answers.map((a) => a.detail).join('; ') };
    }
    return { outcome: 'rejected', detail: answers.map((a) => a.detail).join('; ') };
  }

  /** The first version with a receipt; `unknown` when none has one and some lookup failed. */
  async function receiptOf(
    versions: readonly JournaledTransaction[],
  ): Promise<{ tx: JournaledTransaction; receipt: TransactionReceipt } | null | 'unknown'> {
    let failed = false;
    for (const v of [...versions].reverse()) {
      let receipt: TransactionReceipt | null = null;
      try {
        receipt = await provider.getTransactionReceipt(v.hash);
      } catch {
        failed = true;
        continue;
      }
      if (receipt !== null) return { tx: v, receipt };
    }
    return failed ? 'unknown' : null;
  }

  /** A no-op self-transfer, signed only to use a nonce (see `fill`). */
  const isFiller = (tx: JournaledTransaction) => {
    const parsed = Transaction.from(tx.raw);
    return (
      parsed.to?.toLowerCase() === address.toLowerCase() &&
      parsed.data === '0x' &&
      parsed.value === 0n
    );
  };

  const mined = (tx: JournaledTransaction, receipt: TransactionReceipt): SendOutcome => {
    const r: MinedReceipt = {
      hash: receipt.hash,
      success: receipt.status === 1,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      effectiveGasPrice: receipt.gasPrice,
    };
    return isFiller(tx)
      ? { status: 'filled', nonce: tx.nonce, tx, receipt: r }
      : { status: 'mined', tx, receipt: r };
  };

  const requestOf = (tx: JournaledTransaction): TransactionRequest => {
    const parsed = Transaction.from(tx.raw);
    return { to: parsed.to!, data: parsed.data, value: parsed.value };
  };

  /** Whether any node has any version (pending or mined). */
  async function anyKnown(versions: readonly JournaledTransaction[]): Promise<boolean> {
    for (const v of versions) {
      try {
        if ((await provider.getTransaction(v.hash)) !== null) return true;
      } catch {
        return true; // cannot tell: assume it is out there
      }
    }
    return false;
  }

  /**
   * Signs, journals and broadcasts a no-op self-transfer at `latest`'s nonce, with fees at least
   * +12.5% over it (a pool holding an older version accepts the replacement) and at least the
   * network's.
   */
  async function fill(latest: JournaledTransaction, journal: SubmitJournal) {
    let current = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n };
    try {
      current = await fees();
    } catch {
      // keep the bumped fees
    }
    const priority = max(bump(latest.maxPriorityFeePerGas), current.maxPriorityFeePerGas);
    const filler = await sign({ to: address, data: '0x', value: 0n }, latest.nonce, 21_000n, {
      maxFeePerGas: max(max(bump(latest.maxFeePerGas), current.maxFeePerGas), priority),
      maxPriorityFeePerGas: priority,
    });
    await journal.signed(filler);
    const sent = await broadcast(filler);
    if (sent.outcome === 'accepted') await journal.broadcast?.(filler);
    return filler;
  }

  async function wait(
    request: TransactionRequest | null,
    versions: JournaledTransaction[],
    journal: SubmitJournal,
    signal: AbortSignal | undefined,
  ): Promise<SendOutcome> {
    let lastSentAt = performance.now();
    let polls = 0;
    for (;;) {
      signal?.throwIfAborted();
      const found = await receiptOf(versions);
      if (found !== null && found !== 'unknown') return mined(found.tx, found.receipt);
      const latest = versions[versions.length - 1]!;
      if (++polls % 4 === 0) {
        let chainNonce: number | null = null;
        try {
          chainNonce = await provider.getTransactionCount(address, 'latest');
        } catch {
          // RPC trouble: keep waiting
        }
        if (chainNonce !== null && chainNonce > latest.nonce) {
          // mined meanwhile, or replaced by a transaction that is not ours; a receipt lookup that
          // failed (RPC trouble) proves neither: ours may be the one mined, so keep waiting
          // (reporting it as consumed by another marked our own mined transaction dropped)
          const again = await receiptOf(versions);
          if (again === 'unknown') continue;
          if (again !== null) return mined(again.tx, again.receipt);
          return { status: 'nonce_consumed', nonce: latest.nonce };
        }
      }
      if (performance.now() - lastSentAt >= replaceAfterMs) {
        lastSentAt = performance.now();
        const next = await replacement(request, latest);
        if (next !== null) {
          await journal.signed(next);
          versions.push(next);
          options.onReplaced?.(latest, next);
          const sent = await broadcast(next);
          if (sent.outcome === 'accepted') await journal.broadcast?.(next);
        } else {
          await broadcast(latest); // keep it in the pools (an RPC may have lost it)
        }
      }
      await sleep(pollMs, undefined, signal ? { signal } : undefined);
    }
  }

  /** The same transaction with the same nonce and fees at least +12.5%, or null at the cap. */
  async function replacement(
    request: TransactionRequest | null,
    latest: JournaledTransaction,
  ): Promise<JournaledTransaction | null> {
    let current: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
    try {
      current = await fees();
    } catch {
      return null;
    }
    const priority = max(bump(latest.maxPriorityFeePerGas), current.maxPriorityFeePerGas);
    let maxFee = max(bump(latest.maxFeePerGas), current.maxFeePerGas);
    maxFee = max(maxFee, priority);
    const cap = options.maxFeePerGas;
    if (cap !== undefined && maxFee > cap) {
      if (bump(latest.maxFeePerGas) > cap || priority > cap) {
        options.onFeeCapped?.(latest, maxFee);
        return null;
      }
      maxFee = cap;
    }
    const parsed = Transaction.from(latest.raw);
    const req = request ?? {
      to: parsed.to!,
      data: parsed.data,
      value: parsed.value,
    };
    return sign(req, latest.nonce, latest.gasLimit, {
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: priority,
    });
  }

  return {
    address,
    provider,
    simulate,
    reserveNoncesBelow(minimum, live) {
      reservedBelow = Math.max(reservedBelow, minimum);
      if (live !== undefined) reservedLive = new Set(live);
    },
    async explainRevert(tx, receipt) {
      if (receipt.gasUsed >= tx.gasLimit) {
        return { name: 'OutOfGas', args: [], selector: '0x', permanent: false };
      }
      const request = requestOf(tx);
      for (const blockTag of [receipt.blockNumber, receipt.blockNumber - 1]) {
        try {
          await provider.call({ from: address, ...request, gasLimit: tx.gasLimit, blockTag });
        } catch (error) {
          const revert = decodeRevert(error);
          if (revert !== null) return revert;
        }
      }
      return null;
    },
    balance: () => provider.getBalance(address),
    async send(request, journal, sendOptions = {}) {
      const estimate = sendOptions.gasEstimate ?? (await simulate(request));
      const gasLimit = (estimate * gasPercent) / 100n;
      const [fee, balance] = await Promise.all([fees(), provider.getBalance(address)]);
      if (options.maxFeePerGas !== undefined && fee.maxFeePerGas > options.maxFeePerGas) {
        if (fee.maxPriorityFeePerGas > options.maxFeePerGas) {
          throw new FeeCapExceededError(fee.maxFeePerGas, options.maxFeePerGas);
        }
        // the base fee part: is the cap still above what the next block needs?
        const block = await provider.getBlock('latest');
        const base = block?.baseFeePerGas ?? 0n;
        if (base + fee.maxPriorityFeePerGas > options.maxFeePerGas) {
          throw new FeeCapExceededError(base + fee.maxPriorityFeePerGas, options.maxFeePerGas);
        }
        fee.maxFeePerGas = options.maxFeePerGas;
      }
      const cost = gasLimit * fee.maxFeePerGas + (request.value ?? 0n);
      if (balance < cost) {
        throw new BridgeCallError('The relayer account cannot pay for the transaction', {
          permanent: false,
          details: `insufficient funds: balance ${balance} wei, needs up to ${cost} wei`,
        });
      }
      const first = await withLock(async () => {
        const nonce = await allocateNonce();
        let tx: JournaledTransaction;
        try {
          tx = await sign(request, nonce, gasLimit, fee);
          await journal.signed(tx);
        } catch (error) {
          freeNonces.add(nonce);
          throw error;
        }
        const sent = await broadcast(tx);
        if (sent.outcome === 'rejected') {
          freeNonces.add(nonce);
          await journal.rejected?.(tx, sent.detail.slice(0, 500));
          throw new BridgeCallError('Every RPC endpoint refused the transaction', {
            permanent: false,
            details: sent.detail.slice(0, 500),
          });
        }
        if (sent.outcome === 'nonce_low') nextNonce = undefined; // re-read from the chain
        return { tx, accepted: sent.outcome === 'accepted' };
      });
      if (first.accepted) await journal.broadcast?.(first.tx);
      return wait(request, [first.tx], journal, sendOptions.signal);
    },
    async resume(versions, journal, resumeOptions = {}) {
      if (versions.length === 0) throw new Error('resume needs at least one journaled version');
      const found = await receiptOf(versions);
      if (found !== null && found !== 'unknown') return mined(found.tx, found.receipt);
      const all = [...versions];
      const latest = all[all.length - 1]!;
      if (!isFiller(latest) && !(await anyKnown(all))) {
        // never broadcast, or dropped: send it only if it still succeeds
        try {
          await simulate(requestOf(latest));
        } catch (error) {
          if (error instanceof BridgeCallError && error.revert !== null) {
            all.push(await fill(latest, journal));
            return wait(null, all, journal, resumeOptions.signal);
          }
        }
      }
      const sent = await broadcast(latest);
      if (sent.outcome === 'accepted') await journal.broadcast?.(latest);
      if (sent.outcome === 'rejected') {
        // refused by every node: the nonce must still be used, or every later transaction of
        // the account waits behind it. The same call at the current fees, else a no-op.
        let next = isFiller(latest) ? null : await replacement(null, latest);
        if (next !== null) {
          await journal.signed(next);
          all.push(next);
          const again = await broadcast(next);
          if (again.outcome === 'accepted') await journal.broadcast?.(next);
          if (again.outcome === 'rejected') next = null;
        }
        if (next === null) all.push(await fill(all[all.length - 1]!, journal));
        await journal.rejected?.(latest, sent.detail.slice(0, 500));
      }
      return wait(null, all, journal, resumeOptions.signal);
    },
  };
}
