import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchInfo } from '@synddb/protocol';
import { SyndDBError } from '@synddb/protocol';
import { decodeMessage, leftToCaller, type PreparedMessage, verifyBlob } from './prepare-batch';
import { unpackMessages } from './prepare-wire';
import type { PrepareReply, PrepareRequest } from './prepare-worker';
import { RemoteError } from './remote-error';
import { TRANSFER_FROM_BYTES, transferable } from './transfer';

export interface PreparePool {
  readonly size: number;
  /**
   * Decompresses, decodes and verifies one downloaded batch on a worker thread (the same checks
   * as `prepareBlob`); failures reject with an error of the same `code` as in-thread. Small
   * message payloads are decoded on the calling thread (see `callerDecodeMaxBytes`). A blob of
   * at least 1 MiB that is its whole ArrayBuffer is moved to the worker, not copied: it is
   * detached (empty) here once `prepare` returns.
   */
  prepare(
    info: BatchInfo,
    blob: Uint8Array,
    options: {
      trustedKeys: readonly Uint8Array[];
      maxDecompressedBatchBytes: number;
      stateDeltas?: boolean | undefined;
    },
  ): Promise<PreparedMessage[]>;
  /**
   * Prepares, on the calling thread and synchronously, the newest batch sent to a worker that no
   * worker has started yet (a batch is claimed once, by whichever thread gets to it first): the
   * same checks and results as a worker, and its `prepare()` promise settles. For a caller with
   * nothing else to do while it waits for a batch: with few cores the workers, which verify every
   * signature, are the bottleneck of small messages while the applying thread waits. Returns
   * false, doing nothing, when no such batch is waiting, when `callerHelps` is off, or for
   * batches over `callerHelpMaxMessages` messages or 1 MiB (they would hold the caller too long,
   * and large batches are the applier's bottleneck anyway).
   */
  prepareWaitingHere(): boolean;
  /** Batches prepared so far by the workers and by `prepareWaitingHere()`. */
  stats(): { preparedByWorkers: number; preparedHere: number };
  /**
   * Resolves once every worker has started and loaded its modules (workers start eagerly);
   * rejects with `PreparePoolError` when a worker exits or fails before it is ready.
   */
  ready(): Promise<void>;
  /** Terminates the workers; pending calls reject with `PreparePoolError`. */
  close(): Promise<void>;
}

export interface CreatePreparePoolOptions {
  /** Worker threads. Default: available cores - 1 (at least 1). */
  size?: number;
  /** Location of the worker module, for bundlers that move it. Default: next to this module. */
  workerUrl?: URL;
  /**
   * Nice value of the worker threads (Linux: per thread). Default 10: preparing ahead yields the
   * CPU to the applying thread and to reads when cores are short. 0 keeps normal priority.
   */
  niceness?: number;
  /**
   * Changeset and withdrawal payloads of at most this many bytes (compressed, as signed) are
   * decoded (zstd, CBOR, message hash) on the thread that called `prepare()`, the applying thread,
   * when the worker's reply arrives; larger ones on the worker. Default: 1024 with one worker, 0
   * (all on the workers) with more. With one worker (two cores) and small messages, the worker,
   * which verifies every signature, is the bottleneck while the applying thread has time to spare;
   * large payloads cost the applying thread more to apply than to decode, and with more workers
   * the applying thread is the one to spare. With `stateDeltas`, the deltas of the payloads left
   * to the calling thread are computed there, when they are applied.
   */
  callerDecodeMaxBytes?: number;
  /** Let `prepareWaitingHere()` take batches that no worker has started. Default true. */
  callerHelps?: boolean;
  /** `prepareWaitingHere()` leaves batches of more messages than this to the workers. Default 256. */
  callerHelpMaxMessages?: number;
}

/** The prepare pool failed: a bad size, a worker that crashed or exited, use after `close()`. */
export class PreparePoolError extends SyndDBError {
  override name = 'PreparePoolError';
  declare readonly code: 'PREPARE_POOL';
  override readonly kind = 'internal';
  constructor(message: string, cause?: unknown) {
    super('PREPARE_POOL', message, { cause });
  }
}

interface Pending {
  resolve(messages: PreparedMessage[]): void;
  reject(error: Error): void;
  /** The request's cap, for payloads decoded on this thread. */
  maxDecompressedBatchBytes: number;
  /** The request, while this thread may still take it (`prepareWaitingHere`). */
  stealable: PrepareRequest | undefined;
}

/** `PrepareRequest#claim` values: who prepares the batch. */
const UNCLAIMED = 0;
const CLAIMED_HERE = 2;

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  /** True once the worker reported that its modules are loaded. */
  ready: boolean;
  started: Promise<void>;
}

/**
 * A worker keeps the process alive while it starts and while it has work, never when idle.
 * (Start-up awaits `ready()`: a starting worker that was unref'ed let Node exit with that
 * promise pending, silently and with status 0.)
 */
function settleRef(entry: PoolWorker): void {
  if (entry.ready && entry.pending.size === 0) entry.worker.unref();
  else entry.worker.ref();
}

/**
 * Worker threads that take everything but the download and the apply off the applying thread:
 * zstd, CBOR/COSE, content hash, batch and message signatures, payload decoding. With one
 * worker per spare core, preparing the next batches runs in parallel with applying this one.
 */
export function createPreparePool(options: CreatePreparePoolOptions = {}): PreparePool {
  const size = options.size ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isSafeInteger(size) || size < 1 || size > 256) {
    throw new PreparePoolError(`pool size must be an integer in [1, 256], got ${size}`);
  }
  const niceness = options.niceness ?? 10;
  const callerDecodeMaxBytes = options.callerDecodeMaxBytes ?? (size === 1 ? 1024 : 0);
  if (!Number.isSafeInteger(callerDecodeMaxBytes) || callerDecodeMaxBytes < 0) {
    throw new PreparePoolError(
      `callerDecodeMaxBytes must be a non-negative integer, got ${callerDecodeMaxBytes}`,
    );
  }
  const callerHelps = options.callerHelps ?? true;
  const callerHelpMaxMessages = options.callerHelpMaxMessages ?? 256;
  if (!Number.isSafeInteger(callerHelpMaxMessages) || callerHelpMaxMessages < 0) {
    throw new PreparePoolError(
      `callerHelpMaxMessages must be a non-negative integer, got ${callerHelpMaxMessages}`,
    );
  }
  const here = import.meta.url;
  // Run from TypeScript sources (tests, `source` condition): load the worker through tsx.
  const fromSource = here.endsWith('.ts');
  const workerUrl =
    options.workerUrl ?? new URL(fromSource ? './prepare-worker.ts' : './prepare-worker.js', here);
  const execArgv = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];

  const workers: (PoolWorker | null)[] = Array.from({ length: size }, () => null);
  let nextId = 1;
  let closed = false;
  let preparedByWorkers = 0;
  let preparedHere = 0;
  /** Batches this thread may take, oldest first (`prepareWaitingHere` looks from the newest). */
  const stealable: { entry: PoolWorker; id: number }[] = [];

  function spawn(slot: number): PoolWorker {
    const worker = new Worker(workerUrl, { execArgv, workerData: { niceness } });
    let markStarted: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    const entry: PoolWorker = {
      worker,
      pending: new Map(),
      ready: false,
      started: new Promise<void>((resolve, reject) => {
        markStarted = resolve;
        failStart = reject;
      }),
    };
    // Nobody has to await ready(): an unobserved start failure is reported by prepare() instead.
    entry.started.catch(() => {});
    const failAll = (error: Error) => {
      failStart(error);
      for (const p of entry.pending.values()) p.reject(error);
      entry.pending.clear();
      forget(entry);
      if (workers[slot] === entry) workers[slot] = null;
    };
    entry.worker.on('message', (reply: PrepareReply | { ready: true }) => {
      if ('ready' in reply) {
        entry.ready = true;
        settleRef(entry);
        markStarted();
        return;
      }
      const pending = entry.pending.get(reply.id);
      if (pending === undefined) return;
      entry.pending.delete(reply.id);
      if (pending.stealable !== undefined) forget(entry, reply.id);
      settleRef(entry);
      if (reply.ok) {
        preparedByWorkers++;
        const wire = unpackMessages(reply.packed);
        const messages: PreparedMessage[] = new Array(wire.length);
        for (let i = 0; i < wire.length; i++) {
          const m = wire[i]!;
          if (m.type === 'payload') {
            messages[i] = decodeMessage(m.verified, pending.maxDecompressedBatchBytes, false);
          } else if (m.type === 'invalid') {
            messages[i] = { ...m, error: new RemoteError(m.error) };
          } else {
            messages[i] = m;
          }
        }
        pending.resolve(messages);
      } else {
        pending.reject(new RemoteError(reply.error));
      }
    });
    entry.worker.on('error', (error) =>
      failAll(new PreparePoolError('prepare worker failed', error)),
    );
    entry.worker.on('exit', (code) => {
      failAll(new PreparePoolError(`prepare worker exited with code ${code}`));
    });
    workers[slot] = entry;
    return entry;
  }

  function pick(): PoolWorker {
    let best = -1;
    let load = Number.POSITIVE_INFINITY;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[i];
      const pending = w === null || w === undefined ? 0 : w.pending.size;
      if (pending < load) {
        load = pending;
        best = i;
      }
    }
    return workers[best] ?? spawn(best);
  }

  /** Drops `entry`'s batch `id` (all of them without `id`) from the ones this thread may take. */
  function forget(entry: PoolWorker, id?: number): void {
    for (let i = 0; i < stealable.length; i++) {
      const s = stealable[i]!;
      if (s.entry === entry && (id === undefined || s.id === id)) {
        stealable.splice(i--, 1);
        if (id !== undefined) return;
      }
    }
  }

  /** What a worker does with a request, on this thread. */
  function prepareOnThisThread(request: PrepareRequest): PreparedMessage[] {
    const { maxDecompressedBatchBytes } = request;
    const stateDeltas = request.stateDeltas === true;
    return verifyBlob(request.info, request.blob, {
      trustedKeys: request.trustedKeys,
      maxDecompressedBatchBytes,
    }).map((v) =>
      // As on the reply path: small payloads get their deltas when they are applied.
      decodeMessage(
        v,
        maxDecompressedBatchBytes,
        stateDeltas && !leftToCaller(v, callerDecodeMaxBytes),
      ),
    );
  }

  // Start every worker now: loading modules takes a while, better before the first batch.
  for (let i = 0; i < size; i++) spawn(i);

  return {
    size,
    async ready() {
      await Promise.all(workers.map((w) => w?.started));
    },
    prepare(info, blob, prepareOptions) {
      if (closed) return Promise.reject(new PreparePoolError('the prepare pool is closed'));
      const entry = pick();
      const id = nextId++;
      // A batch this thread may take is copied to the worker, not moved, and carries a claim.
      const canSteal =
        callerHelps &&
        blob.byteLength < TRANSFER_FROM_BYTES &&
        info.endSequence - info.startSequence < BigInt(callerHelpMaxMessages);
      const request: PrepareRequest = {
        id,
        info,
        blob,
        trustedKeys: [...prepareOptions.trustedKeys],
        maxDecompressedBatchBytes: prepareOptions.maxDecompressedBatchBytes,
        stateDeltas: prepareOptions.stateDeltas === true,
        callerDecodeMaxBytes,
        ...(canSteal ? { claim: new Int32Array(new SharedArrayBuffer(4)) } : {}),
      };
      return new Promise<PreparedMessage[]>((resolve, reject) => {
        entry.pending.set(id, {
          resolve,
          reject,
          maxDecompressedBatchBytes: prepareOptions.maxDecompressedBatchBytes,
          stealable: canSteal ? request : undefined,
        });
        if (canSteal) stealable.push({ entry, id });
        settleRef(entry);
        entry.worker.postMessage(request, canSteal ? [] : transferable(blob));
      });
    },
    prepareWaitingHere() {
      // The newest first: the workers take theirs oldest first, so the two meet late, and what
      // this thread takes is needed last.
      for (let i = stealable.length - 1; i >= 0; i--) {
        const { entry, id } = stealable[i]!;
        const pending = entry.pending.get(id);
        const request = pending?.stealable;
        if (pending === undefined || request?.claim === undefined) {
          stealable.splice(i, 1); // settled meanwhile
          continue;
        }
        if (Atomics.compareExchange(request.claim, 0, UNCLAIMED, CLAIMED_HERE) !== UNCLAIMED) {
          // The worker has it; so it has every older one of its own too.
          pending.stealable = undefined;
          stealable.splice(i, 1);
          continue;
        }
        stealable.splice(i, 1);
        entry.pending.delete(id); // the worker skips it, without a reply
        settleRef(entry);
        let messages: PreparedMessage[];
        try {
          messages = prepareOnThisThread(request);
        } catch (error) {
          pending.reject(error as Error);
          return true;
        }
        preparedHere++;
        pending.resolve(messages);
        return true;
      }
      return false;
    },
    stats() {
      return { preparedByWorkers, preparedHere };
    },
    async close() {
      closed = true;
      const running = workers.filter((w): w is PoolWorker => w !== null);
      workers.fill(null);
      stealable.length = 0;
      await Promise.all(
        running.map(async (w) => {
          for (const p of w.pending.values())
            p.reject(new PreparePoolError('the prepare pool is closed'));
          w.pending.clear();
          await w.worker.terminate();
        }),
      );
    },
  };
}
