import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchInfo } from '@synddb/protocol';
import { SyndDBError } from '@synddb/protocol';
import { decodeMessage, type PreparedMessage } from './prepare-batch';
import { unpackMessages } from './prepare-wire';
import type { PrepareReply, PrepareRequest } from './prepare-worker';
import { RemoteError } from './remote-error';
import { transferable } from './transfer';

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
}

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
  const here = import.meta.url;
  // Run from TypeScript sources (tests, `source` condition): load the worker through tsx.
  const fromSource = here.endsWith('.ts');
  const workerUrl =
    options.workerUrl ?? new URL(fromSource ? './prepare-worker.ts' : './prepare-worker.js', here);
  const execArgv = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];

  const workers: (PoolWorker | null)[] = Array.from({ length: size }, () => null);
  let nextId = 1;
  let closed = false;

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
      settleRef(entry);
      if (reply.ok) {
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
      const request: PrepareRequest = {
        id,
        info,
        blob,
        trustedKeys: [...prepareOptions.trustedKeys],
        maxDecompressedBatchBytes: prepareOptions.maxDecompressedBatchBytes,
        stateDeltas: prepareOptions.stateDeltas === true,
        callerDecodeMaxBytes,
      };
      return new Promise<PreparedMessage[]>((resolve, reject) => {
        entry.pending.set(id, {
          resolve,
          reject,
          maxDecompressedBatchBytes: prepareOptions.maxDecompressedBatchBytes,
        });
        settleRef(entry);
        entry.worker.postMessage(request, transferable(blob));
      });
    },
    async close() {
      closed = true;
      const running = workers.filter((w): w is PoolWorker => w !== null);
      workers.fill(null);
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
