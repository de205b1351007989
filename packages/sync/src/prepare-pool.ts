import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchInfo } from '@synddb/protocol';
import { SyndDBError } from '@synddb/protocol';
import type { PreparedMessage } from './prepare-batch';
import type { PrepareReply, PrepareRequest } from './prepare-worker';
import { RemoteError } from './remote-error';

export interface PreparePool {
  readonly size: number;
  /**
   * Decompresses, decodes and verifies one downloaded batch on a worker thread (the same checks
   * as `prepareBlob`); failures reject with an error of the same `code` as in-thread.
   */
  prepare(
    info: BatchInfo,
    blob: Uint8Array,
    options: { trustedKeys: readonly Uint8Array[]; maxDecompressedBatchBytes: number },
  ): Promise<PreparedMessage[]>;
  /** Resolves once every worker has started and loaded its modules (workers start eagerly). */
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
}

export class PreparePoolError extends SyndDBError {
  override name = 'PreparePoolError';
  constructor(message: string, cause?: unknown) {
    super('PREPARE_POOL', message, { cause });
  }
}

interface Pending {
  resolve(messages: PreparedMessage[]): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  started: Promise<void>;
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
    const entry: PoolWorker = {
      worker,
      pending: new Map(),
      started: new Promise<void>((resolve) => {
        markStarted = resolve;
      }),
    };
    const failAll = (error: Error) => {
      for (const p of entry.pending.values()) p.reject(error);
      entry.pending.clear();
      if (workers[slot] === entry) workers[slot] = null;
    };
    entry.worker.on('message', (reply: PrepareReply | { ready: true }) => {
      if ('ready' in reply) {
        markStarted();
        return;
      }
      const pending = entry.pending.get(reply.id);
      if (pending === undefined) return;
      entry.pending.delete(reply.id);
      if (entry.pending.size === 0) entry.worker.unref();
      if (reply.ok) {
        pending.resolve(
          reply.messages.map((m) =>
            m.type === 'invalid' ? { ...m, error: new RemoteError(m.error) } : m,
          ),
        );
      } else {
        pending.reject(new RemoteError(reply.error));
      }
    });
    entry.worker.on('error', (error) =>
      failAll(new PreparePoolError('prepare worker failed', error)),
    );
    entry.worker.on('exit', (code) => {
      markStarted();
      failAll(new PreparePoolError(`prepare worker exited with code ${code}`));
    });
    entry.worker.unref();
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
      };
      return new Promise<PreparedMessage[]>((resolve, reject) => {
        entry.pending.set(id, { resolve, reject });
        entry.worker.ref();
        entry.worker.postMessage(request);
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
