import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { QueryConfigError, QueryError } from './errors';
import type {
  WorkerMessage,
  WorkerRequest,
  WorkerRequestMessage,
  WorkerResult,
} from './worker-protocol';

export interface QueryPoolOptions {
  /** The replica file (read-only access; must exist). */
  databasePath: string;
  /** Worker processes, each with its own read-only connection. */
  size: number;
  /** SQLite busy timeout of each worker connection. Default 5000 ms. */
  busyTimeoutMs?: number | undefined;
  /** Requests waiting for a worker beyond this many are refused (`QUERY_BUSY`). Default 256. */
  maxQueue?: number | undefined;
  /**
   * Location of the worker module, for bundlers that move it. Default: `query-worker.js` next to
   * this module (`query-worker.ts` through tsx when running from TypeScript sources).
   */
  workerUrl?: URL | undefined;
  /** Called when a worker is killed or dies (for logs). */
  onWorkerExit?: ((info: { reason: 'timeout' | 'crash'; detail: string }) => void) | undefined;
}

export interface QueryPool {
  readonly size: number;
  /**
   * Resolves once every worker has opened the replica (replacements of killed workers included);
   * rejects with `QUERY_UNAVAILABLE` if one cannot, or once the pool is closed.
   */
  ready(): Promise<void>;
  /**
   * Runs one statement. Rejects with `QUERY_TIMEOUT` when `deadline` (a `performance.now()` time)
   * passes, whether the request was still queued or running; a running statement is interrupted
   * by killing its worker process, which is replaced.
   */
  run(request: WorkerRequest, deadline: number): Promise<WorkerResult>;
  /** Workers started since creation (replacements included). */
  readonly spawned: number;
  close(): Promise<void>;
}

interface Task {
  request: WorkerRequest;
  id: number;
  resolve(result: WorkerResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  worker?: Slot | undefined;
  /** performance.now() when sent to its worker. */
  sentAt?: number;
}

interface Slot {
  child: ChildProcess;
  ready: boolean;
  /** Sent and not answered yet, in send order (the worker runs them one after another). */
  tasks: Map<number, Task>;
  exited: boolean;
  /** Killed; waiting for its exit. */
  dying: boolean;
  /** Killed because this task ran past its time limit: the others it held are re-queued. */
  killedFor: Task | undefined;
}

/**
 * Queries sent to one worker before its answers come back. Each answer needs a turn of this
 * process's event loop, which is shared with the sync engine's commits; with one query per worker
 * in flight, throughput while catching up was bounded by that turn (~150 queries/s), not by the
 * workers.
 */
const PIPELINE_DEPTH = 8;
/** A worker whose oldest query has run this long gets no more (it may be a slow statement). */
const PIPELINE_STALL_MS = 100;

/**
 * Where the worker module is and how to start it. Built (`dist/`): `query-worker.js` next to this
 * bundle, for the ESM and the CJS build alike. From TypeScript sources (tests, the `source`
 * condition): `query-worker.ts` through tsx, with the `source` condition for workspace imports.
 */
export function queryWorkerLocation(workerUrl?: URL): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const url = workerUrl ?? new URL(fromSource ? './query-worker.ts' : './query-worker.js', here);
  const execArgv = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];
  return { path: fileURLToPath(url), execArgv };
}

/**
 * Worker processes (not threads) run the queries: better-sqlite3 and node:sqlite are synchronous
 * and have no interrupt, and a worker thread cannot be terminated while SQLite is inside a
 * statement (measured: `worker.terminate()` waited 43 s for a recursive CTE to finish). Killing a
 * process always works, and SQLite releases its read lock with it.
 */
export function createQueryPool(options: QueryPoolOptions): QueryPool {
  const { size } = options;
  if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
    throw new QueryConfigError(`query workers must be an integer in [1, 64], got ${size}`);
  }
  const maxQueue = options.maxQueue ?? 256;
  const worker = queryWorkerLocation(options.workerUrl);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 0;
  let spawned = 0;
  let closed = false;
  let fatal: string | undefined;
  const readyWaiters: { resolve(): void; reject(e: Error): void }[] = [];

  const settleReady = () => {
    if (fatal !== undefined || closed) {
      const error = new QueryError(
        'QUERY_UNAVAILABLE',
        closed ? 'the query service is closed' : `query worker cannot start: ${fatal}`,
      );
      for (const w of readyWaiters.splice(0)) w.reject(error);
    } else if (slots.every((s) => s.ready && !s.dying && !s.exited)) {
      // A worker killed at its time limit counts again once its replacement has opened the replica.
      for (const w of readyWaiters.splice(0)) w.resolve();
    }
  };

  const spawn = (): Slot => {
    spawned++;
    const child = fork(worker.path, [options.databasePath, String(busyTimeoutMs)], {
      execArgv: ['--disable-warning=ExperimentalWarning', ...worker.execArgv],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const slot: Slot = {
      child,
      ready: false,
      tasks: new Map(),
      exited: false,
      dying: false,
      killedFor: undefined,
    };
    // The process handle never keeps the parent alive; the IPC channel only while starting or busy.
    child.unref();
    child.on('message', (message: WorkerMessage) => {
      if ('ready' in message) {
        slot.ready = true;
        child.channel?.unref();
        settleReady();
        dispatch();
        return;
      }
      if ('fatal' in message) {
        fatal = message.fatal;
        settleReady();
        failQueue();
        return;
      }
      const task = slot.tasks.get(message.id);
      if (task === undefined) return;
      slot.tasks.delete(message.id);
      if (slot.tasks.size === 0) child.channel?.unref();
      clearTimeout(task.timer);
      const { id: _id, ...result } = message;
      task.resolve(result as WorkerResult);
      dispatch();
    });
    child.on('error', () => {});
    child.on('exit', (code, signal) => {
      slot.exited = true;
      const held = [...slot.tasks.values()];
      slot.tasks.clear();
      const index = slots.indexOf(slot);
      const requeue: Task[] = [];
      for (const task of held) {
        if (closed) {
          clearTimeout(task.timer);
          task.reject(new QueryError('QUERY_UNAVAILABLE', 'the query service is closed'));
        } else if (slot.killedFor !== undefined) {
          // Innocent queries that waited behind the one that timed out: run them elsewhere.
          task.worker = undefined;
          requeue.push(task);
        } else {
          clearTimeout(task.timer);
          task.reject(
            new QueryError(
              'QUERY_INTERNAL',
              `query worker exited (code ${code}, signal ${signal})`,
            ),
          );
        }
      }
      if (held.length > 0 && !closed && slot.killedFor === undefined) {
        options.onWorkerExit?.({ reason: 'crash', detail: `code ${code} signal ${signal}` });
      }
      queue.unshift(...requeue);
      if (index >= 0 && !closed && fatal === undefined) {
        slots[index] = spawn();
      } else if (index >= 0) {
        slots.splice(index, 1);
      }
      if (closed || fatal !== undefined) failQueue();
      else dispatch();
    });
    return slot;
  };

  const failQueue = () => {
    for (const task of queue.splice(0)) {
      clearTimeout(task.timer);
      task.reject(
        new QueryError(
          'QUERY_UNAVAILABLE',
          fatal === undefined
            ? 'the query service is closed'
            : `query worker cannot start: ${fatal}`,
        ),
      );
    }
  };

  const dispatch = () => {
    while (queue.length > 0) {
      let slot: Slot | undefined;
      for (const candidate of slots) {
        if (!candidate.ready || candidate.exited || candidate.dying) continue;
        if (candidate.tasks.size >= PIPELINE_DEPTH) continue;
        const oldest = candidate.tasks.values().next().value;
        if (oldest?.sentAt !== undefined && performance.now() - oldest.sentAt > PIPELINE_STALL_MS) {
          continue;
        }
        if (slot === undefined || candidate.tasks.size < slot.tasks.size) slot = candidate;
      }
      if (slot === undefined) return;
      const target = slot;
      const task = queue.shift()!;
      target.tasks.set(task.id, task);
      task.worker = target;
      task.sentAt = performance.now();
      target.child.channel?.ref();
      const message: WorkerRequestMessage = { id: task.id, ...task.request };
      target.child.send(message, (error) => {
        if (error && target.tasks.has(task.id) && !target.dying) {
          target.dying = true;
          target.child.kill('SIGKILL');
        }
      });
    }
  };

  for (let i = 0; i < size; i++) slots.push(spawn());

  return {
    size,
    get spawned() {
      return spawned;
    },
    ready() {
      return new Promise<void>((resolve, reject) => {
        readyWaiters.push({ resolve, reject });
        settleReady();
      });
    },
    run(request, deadline) {
      if (closed || fatal !== undefined) {
        return Promise.reject(
          new QueryError(
            'QUERY_UNAVAILABLE',
            closed ? 'the query service is closed' : `query worker cannot start: ${fatal}`,
          ),
        );
      }
      if (queue.length >= maxQueue) {
        return Promise.reject(
          new QueryError('QUERY_BUSY', `too many queries waiting (${maxQueue}); retry later`),
        );
      }
      return new Promise<WorkerResult>((resolve, reject) => {
        const task: Task = {
          request,
          id: nextId++,
          resolve,
          reject,
          timer: setTimeout(
            () => {
              const slot = task.worker;
              if (slot === undefined) {
                const at = queue.indexOf(task);
                if (at >= 0) queue.splice(at, 1);
                reject(new QueryError('QUERY_TIMEOUT', 'the query timed out waiting for a worker'));
                return;
              }
              if (!slot.tasks.has(task.id)) return;
              slot.tasks.delete(task.id);
              // No new task goes to this worker; its exit handler spawns the replacement and
              // re-queues the queries it still held.
              slot.dying = true;
              slot.killedFor = task;
              options.onWorkerExit?.({ reason: 'timeout', detail: request.sql.slice(0, 200) });
              slot.child.kill('SIGKILL');
              reject(
                new QueryError(
                  'QUERY_TIMEOUT',
                  'the statement ran past its time limit and was interrupted',
                ),
              );
            },
            Math.max(0, deadline - performance.now()),
          ),
        };
        queue.push(task);
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      failQueue();
      settleReady();
      const exits = slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            if (slot.exited) return resolve();
            slot.child.ref();
            slot.child.once('exit', () => resolve());
            slot.child.kill('SIGKILL');
          }),
      );
      await Promise.all(exits);
    },
  };
}
