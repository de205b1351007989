import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { defaultBackend } from '../backend/default-backend';
import { DIGEST_BYTES, hasCanonicalLowSScalars, PUBKEY_BYTES } from '../backend/signature-rules';
import { VerifierPoolError } from '../errors';
import { DIGEST_OFFSET, PUBKEY_OFFSET, RECORD_BYTES } from './verify-record';
import type { VerifyReply, VerifyRequest } from './verify-worker';

/** One signature to check: r||s over a 32-byte digest under a 64-byte X||Y key. */
export interface SignatureCheck {
  signature: Uint8Array;
  digest: Uint8Array;
  pubkey: Uint8Array;
}

export interface VerifierPool {
  readonly size: number;
  /** The curve backend the workers use. */
  readonly backend: 'native' | 'noble';
  /** Verifies every item with the same rules as `Secp256k1Backend.verify`; results in input order. */
  verifyMany(items: readonly SignatureCheck[]): Promise<boolean[]>;
  /** Terminates the workers; pending calls reject with `VerifierPoolError`. */
  close(): Promise<void>;
}

export interface CreateVerifierPoolOptions {
  /** Number of worker threads. Default: available cores - 1 (at least 1). */
  size?: number;
  /** Backend for the workers. Default: the backend `defaultBackend()` picks in this process. */
  backend?: 'native' | 'noble';
  /** Below this many items a call is split into fewer chunks (per-message cost of a round trip). */
  minItemsPerWorker?: number;
  /** Location of the worker module, for bundlers that move it. Default: next to this module. */
  workerUrl?: URL;
}

const DEFAULT_MIN_ITEMS_PER_WORKER = 16;

interface Pending {
  resolve(results: Uint8Array): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * A pool of worker threads verifying secp256k1 signatures in parallel. Digests are computed by
 * the caller (cheap); only the curve arithmetic crosses threads, as one transferred buffer per
 * chunk. Workers are unref'ed while idle, so a forgotten pool does not keep the process alive.
 */
export function createVerifierPool(options: CreateVerifierPoolOptions = {}): VerifierPool {
  const size = options.size ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isSafeInteger(size) || size < 1 || size > 256) {
    throw new VerifierPoolError(`pool size must be an integer in [1, 256], got ${size}`);
  }
  const backend = options.backend ?? defaultBackend().name;
  const minItemsPerWorker = Math.max(1, options.minItemsPerWorker ?? DEFAULT_MIN_ITEMS_PER_WORKER);
  const here = import.meta.url;
  // Run from TypeScript sources (tests, `source` condition): load the worker through tsx.
  const fromSource = here.endsWith('.ts');
  const workerUrl =
    options.workerUrl ?? new URL(fromSource ? './verify-worker.ts' : './verify-worker.js', here);
  const execArgv = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];
  let nextId = 0;
  let closed = false;

  const spawn = (): PoolWorker => {
    const entry: PoolWorker = { worker: new Worker(workerUrl, { execArgv }), pending: new Map() };
    entry.worker.unref();
    entry.worker.on('message', (reply: VerifyReply) => {
      const task = entry.pending.get(reply.id);
      if (task === undefined) return;
      entry.pending.delete(reply.id);
      if (entry.pending.size === 0) entry.worker.unref();
      if ('error' in reply)
        task.reject(new VerifierPoolError(`worker rejected the request: ${reply.error}`));
      else task.resolve(reply.results);
    });
    const fail = (error: Error) => {
      for (const task of entry.pending.values()) task.reject(error);
      entry.pending.clear();
      const index = workers.indexOf(entry);
      // Replace a dead worker so one crash does not shrink the pool for good.
      if (!closed && index >= 0) workers[index] = spawn();
    };
    entry.worker.on('error', (cause) =>
      fail(new VerifierPoolError('verifier worker crashed', cause)),
    );
    entry.worker.on('exit', (code) => {
      if (!closed) fail(new VerifierPoolError(`verifier worker exited with code ${code}`));
    });
    return entry;
  };

  const workers: PoolWorker[] = [];
  for (let i = 0; i < size; i++) workers.push(spawn());

  const runChunk = (entry: PoolWorker, buffer: ArrayBuffer, count: number): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      entry.pending.set(id, { resolve, reject });
      entry.worker.ref();
      const request: VerifyRequest = { id, backend, count, buffer };
      entry.worker.postMessage(request, [buffer]);
    });

  return {
    size,
    backend,
    async verifyMany(items) {
      if (closed) throw new VerifierPoolError('verifier pool is closed');
      const results = new Array<boolean>(items.length).fill(false);
      // Lengths, scalar ranges and low-S are settled here with the backends' shared rule, so the
      // workers only do curve arithmetic and can never accept what a backend would reject.
      const eligible: number[] = [];
      items.forEach((item, index) => {
        if (
          item.digest.length === DIGEST_BYTES &&
          item.pubkey.length === PUBKEY_BYTES &&
          hasCanonicalLowSScalars(item.signature)
        ) {
          eligible.push(index);
        }
      });
      if (eligible.length === 0) return results;

      const chunks = Math.min(workers.length, Math.ceil(eligible.length / minItemsPerWorker));
      const perChunk = Math.ceil(eligible.length / chunks);
      const runs: Promise<void>[] = [];
      for (let c = 0; c < chunks; c++) {
        const indices = eligible.slice(c * perChunk, (c + 1) * perChunk);
        const buffer = new ArrayBuffer(indices.length * RECORD_BYTES);
        const bytes = new Uint8Array(buffer);
        indices.forEach((itemIndex, k) => {
          const item = items[itemIndex]!;
          bytes.set(item.signature, k * RECORD_BYTES);
          bytes.set(item.digest, k * RECORD_BYTES + DIGEST_OFFSET);
          bytes.set(item.pubkey, k * RECORD_BYTES + PUBKEY_OFFSET);
        });
        const entry = leastBusy(workers);
        runs.push(
          runChunk(entry, buffer, indices.length).then((chunkResults) => {
            if (chunkResults.length !== indices.length) {
              throw new VerifierPoolError('verifier worker returned a malformed reply');
            }
            indices.forEach((itemIndex, k) => {
              results[itemIndex] = chunkResults[k] === 1;
            });
          }),
        );
      }
      await Promise.all(runs);
      return results;
    },
    async close() {
      if (closed) return;
      closed = true;
      const error = new VerifierPoolError('verifier pool closed while a verification was pending');
      for (const entry of workers) {
        for (const task of entry.pending.values()) task.reject(error);
        entry.pending.clear();
      }
      await Promise.all(workers.map((entry) => entry.worker.terminate()));
    },
  };
}

function leastBusy(workers: readonly PoolWorker[]): PoolWorker {
  let best = workers[0]!;
  for (const entry of workers) if (entry.pending.size < best.pending.size) best = entry;
  return best;
}
