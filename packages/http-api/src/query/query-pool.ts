import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HttpApiConfigError } from '../errors';
import { QueryError } from './query-errors';

/** One statement as the worker runs it. */
export interface WorkerRequest {
  sql: string;
  params: readonly unknown[] | Record<string, unknown> | null;
  /** Decimal; the worker answers `behind` when its snapshot is older. */
  minSequence: string | null;
  maxRows: number;
  maxBytes: number;
}

export type WorkerResult =
  | {
      ok: true;
      columns: string[];
      /** The rows as JSON text (an array of arrays), ready to splice into a response. */
      rowsJson: string;
      rowCount: number;
      sequence: string | null;
    }
  | { ok: false; code: string; message: string; sequence: string | null }
  | { behind: true; sequence: string | null };

export interface QueryPoolOptions {
  /** The replica file (read-only access; must exist). */
  databasePath: string;
  /** Worker processes, each with its own read-only connection. */
  size: number;
  /** SQLite busy timeout of each worker connection. Default 5000 ms. */
  busyTimeoutMs?: number | undefined;
  /** Requests waiting for a worker beyond this many are refused (`QUERY_BUSY`). Default 256. */
  maxQueue?: number | undefined;
  /** Location of query-worker.mjs, for bundlers that move it. Default: next to this module. */
  workerUrl?: URL | undefined;
  /** Called when a worker is killed or dies (for logs). */
  onWorkerExit?: ((info: { reason: 'timeout' | 'crash'; detail: string }) => void) | undefined;
}

export interface QueryPool {
  readonly size: number;
  /** Resolves once every worker has opened the replica; rejects with `QUERY_UNAVAILABLE` if one cannot. */
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
}

interface Slot {
  child: ChildProcess;
  ready: boolean;
  task: Task | undefined;
  exited: boolean;
  /** Killed; waiting for its exit. */
  dying: boolean;
}

type WorkerMessage = { ready: true } | { fatal: string } | (WorkerResult & { id: number });

/**
 * Worker processes (not threads) run the queries: better-sqlite3 and node:sqlite are synchronous
 * and have no interrupt, and a worker thread cannot be terminated while SQLite is inside a
 * statement (measured: `worker.terminate()` waited 43 s for a recursive CTE to finish). Killing a
 * process always works, and SQLite releases its read lock with it.
 */
export function createQueryPool(options: QueryPoolOptions): QueryPool {
  const { size } = options;
  if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
    throw new HttpApiConfigError(`query workers must be an integer in [1, 64], got ${size}`);
  }
  const maxQueue = options.maxQueue ?? 256;
  const workerPath = fileURLToPath(
    options.workerUrl ?? new URL('./query-worker.mjs', import.meta.url),
  );
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 0;
  let spawned = 0;
  let closed = false;
  let fatal: string | undefined;
  const readyWaiters: { resolve(): void; reject(e: Error): void }[] = [];

  const settleReady = () => {
    if (fatal !== undefined) {
      const error = new QueryError('QUERY_UNAVAILABLE', `query worker cannot start: ${fatal}`);
      for (const w of readyWaiters.splice(0)) w.reject(error);
    } else if (slots.every((s) => s.ready)) {
      for (const w of readyWaiters.splice(0)) w.resolve();
    }
  };

  const spawn = (): Slot => {
    spawned++;
    const child = fork(workerPath, [options.databasePath, String(busyTimeoutMs)], {
      execArgv: ['--disable-warning=ExperimentalWarning'],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const slot: Slot = { child, ready: false, task: undefined, exited: false, dying: false };
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
      const task = slot.task;
      if (task === undefined || task.id !== message.id) return;
      slot.task = undefined;
      child.channel?.unref();
      clearTimeout(task.timer);
      const { id: _id, ...result } = message;
      task.resolve(result as WorkerResult);
      dispatch();
    });
    child.on('error', () => {});
    child.on('exit', (code, signal) => {
      slot.exited = true;
      const task = slot.task;
      slot.task = undefined;
      const index = slots.indexOf(slot);
      if (task !== undefined) {
        clearTimeout(task.timer);
        if (closed) {
          task.reject(new QueryError('QUERY_UNAVAILABLE', 'the query service is closed'));
        } else {
          options.onWorkerExit?.({ reason: 'crash', detail: `code ${code} signal ${signal}` });
          task.reject(
            new QueryError(
              'QUERY_INTERNAL',
              `query worker exited (code ${code}, signal ${signal})`,
            ),
          );
        }
      }
      if (index >= 0 && !closed && fatal === undefined) {
        slots[index] = spawn();
      } else if (index >= 0) {
        slots.splice(index, 1);
      }
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
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || slot.exited || slot.dying || slot.task !== undefined) continue;
      const task = queue.shift()!;
      slot.task = task;
      task.worker = slot;
      slot.child.channel?.ref();
      slot.child.send({ id: task.id, ...task.request }, (error) => {
        if (error && slot.task === task) {
          slot.dying = true;
          slot.child.kill('SIGKILL');
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
              if (slot.task !== task) return;
              slot.task = undefined;
              // No new task goes to this worker; its exit handler spawns the replacement.
              slot.dying = true;
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
