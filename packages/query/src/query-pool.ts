// Over ~600 lines: one closure over the pool's scheduling state (slots, queue, per-client caps,
// fairness, preemption, deadlines, replacement with backoff), whose parts read and change the same
// state on every event. What stands apart is split out: starting processes (worker-launcher.ts,
// worker-spawner.ts), the channel's framing (line-channel.ts) and the messages (worker-protocol.ts).
import { readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { QueryConfigError, QueryError } from './errors';
import { createWorkerLauncher, type WorkerHandle, type WorkerLauncher } from './worker-launcher';
import type {
  WorkerMessage,
  WorkerRequest,
  WorkerRequestMessage,
  WorkerResult,
} from './worker-protocol';

/** Why a worker left the pool (for logs); it is replaced in every case but `fatal`. */
export type WorkerExitReason = 'timeout' | 'crash' | 'spawn_failed';

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
   * Workers one client's queries may occupy at once (queued queries of other clients go to the
   * rest), so one client's slow statements cannot starve everyone else. Default: all but one
   * (at least 1).
   */
  maxWorkersPerClient?: number | undefined;
  /**
   * A statement is interrupted (its worker killed and replaced) only after it has run at least
   * this long, even when its request asked for less: the request is answered `QUERY_TIMEOUT` at
   * its own deadline, but a tiny `timeout_ms` cannot make the pool fork a process per request.
   * Default 1000 ms.
   */
  interruptFloorMs?: number | undefined;
  /**
   * Location of the worker module, for bundlers that move it. Default: `query-worker.js` next to
   * this module (`query-worker.ts` through tsx when running from TypeScript sources).
   */
  workerUrl?: URL | undefined;
  /** Called when a worker is killed, dies, or cannot be started (for logs). */
  onWorkerExit?: ((info: { reason: WorkerExitReason; detail: string }) => void) | undefined;
  /**
   * Starts the worker processes. Default: `createWorkerLauncher()`, a spawner process that forks
   * them, so that this process never forks after start (owned and closed by the pool). Tests wrap
   * it to inject failed starts.
   */
  launcher?: WorkerLauncher | undefined;
  /**
   * How much lower than this process a worker runs once its current statement has used
   * `demoteAfterMs` of CPU time (added to this process's niceness, at most 19): statements burning every core
   * must not starve this process (sync, `/health`), while short queries run at this process's
   * priority (a worker niced for good waited behind every busy thread of the machine: tens of ms
   * for a point query). A demoted worker is replaced once it is idle (at most one replacement per
   * 2 s; until then it serves, niced). Default 10; 0 never demotes.
   */
  workerNice?: number | undefined;
  /**
   * See `workerNice`. Default 50 ms of the worker's CPU time (Linux `/proc`; elsewhere, of wall
   * time): on a loaded machine a point query can take longer than that waiting for a core.
   */
  demoteAfterMs?: number | undefined;
}

export interface QueryPool {
  readonly size: number;
  /**
   * Resolves once every worker has opened the replica (replacements of killed workers included)
   * and none is still running a statement that timed out; rejects with `QUERY_UNAVAILABLE` if
   * one cannot start, or once the pool is closed.
   */
  ready(): Promise<void>;
  /** Workers that have opened the replica and take queries now (0: no query can be answered). */
  readonly available: number;
  /**
   * Runs one statement. Rejects with `QUERY_TIMEOUT` when `deadline` (a `performance.now()` time)
   * passes, whether the request was still queued or running; a running statement is interrupted
   * by killing its worker process, which is replaced. `client` keys the per-client worker cap.
   */
  run(request: WorkerRequest, deadline: number, client?: string): Promise<WorkerResult>;
  /** Workers started since creation (replacements included). */
  readonly spawned: number;
  close(): Promise<void>;
}

interface Task {
  request: WorkerRequest;
  id: number;
  client: string;
  resolve(result: WorkerResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Answered QUERY_TIMEOUT already; still running until its interrupt time. */
  abandoned: boolean;
  /** Re-queued once after its worker died under it (a second death rejects it). */
  retried: boolean;
  worker?: Slot | undefined;
  /** performance.now() when sent to its worker. */
  sentAt?: number | undefined;
}

interface Slot {
  child: WorkerHandle | undefined;
  ready: boolean;
  /** performance.now() when its current first task (the running statement) reached the head. */
  headSince: number;
  /** Niced because a statement ran past `demoteAfterMs`; replaced once idle. */
  demoted: boolean;
  /** The first task when the demotion check last saw it, and the worker's CPU ticks then. */
  watched: { task: Task; ticks: number } | undefined;
  /** A demoted slot this one (starting) replaces once it is ready. */
  replaces: Slot | undefined;
  /** Replaced by a successor: takes no more tasks, ends once idle, and leaves `slots`. */
  retired: boolean;
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
/** How long a client whose statement was interrupted runs last, alone on an idle worker. */
const PENALTY_MS = 10_000;
/** How often queued work checks whether a long statement must yield its worker. */
const PREEMPT_CHECK_MS = 100;
/** Linux reports CPU time in /proc in clock ticks of 10 ms (USER_HZ 100). */
const MS_PER_TICK = 10;

/** CPU time (user + system) of process `pid` in clock ticks, or undefined without /proc. */
function cpuTicksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** At most one demoted worker is replaced per this many ms (a replacement costs a process start). */
const RETIRE_EVERY_MS = 2000;
/** Retry delays of a worker that could not be started (e.g. EMFILE): doubling up to the max. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 5000;

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
 *
 * A worker that dies, is killed or cannot even be started (fork fails with EMFILE while a client
 * holds every descriptor) is always replaced: a failed start is retried with backoff, and
 * `available` says how many workers can answer meanwhile.
 */
export function createQueryPool(options: QueryPoolOptions): QueryPool {
  const { size } = options;
  if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
    throw new QueryConfigError(`query workers must be an integer in [1, 64], got ${size}`);
  }
  const maxQueue = options.maxQueue ?? 256;
  const maxWorkersPerClient = options.maxWorkersPerClient ?? Math.max(1, size - 1);
  if (!Number.isSafeInteger(maxWorkersPerClient) || maxWorkersPerClient < 1) {
    throw new QueryConfigError(
      `maxWorkersPerClient must be a positive integer, got ${maxWorkersPerClient}`,
    );
  }
  const interruptFloorMs = options.interruptFloorMs ?? 1000;
  const workerNice = options.workerNice ?? 10;
  if (!Number.isSafeInteger(workerNice) || workerNice < 0 || workerNice > 19) {
    throw new QueryConfigError(`workerNice must be an integer in [0, 19], got ${workerNice}`);
  }
  const demoteAfterMs = options.demoteAfterMs ?? 50;
  // Relative to this process: a validator started under `nice -n 5` demotes its workers to 15.
  let demotedNice = workerNice;
  try {
    demotedNice = Math.min(19, getPriority() + workerNice);
  } catch {}
  const ownLauncher = options.launcher === undefined;
  const launcher = options.launcher ?? createWorkerLauncher();
  const worker = queryWorkerLocation(options.workerUrl);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 0;
  let spawned = 0;
  let closed = false;
  let fatal: string | undefined;
  let respawnDelay = RESPAWN_MIN_MS;
  let respawnTimer: NodeJS.Timeout | undefined;
  let preemptTimer: NodeJS.Timeout | undefined;
  const readyWaiters: { resolve(): void; reject(e: Error): void }[] = [];

  const usable = (s: Slot) => s.ready && !s.dying && !s.exited;

  const settleReady = () => {
    if (fatal !== undefined || closed) {
      const error = new QueryError(
        'QUERY_UNAVAILABLE',
        closed ? 'the query service is closed' : `query worker cannot start: ${fatal}`,
      );
      for (const w of readyWaiters.splice(0)) w.reject(error);
    } else if (slots.every((s) => usable(s) && ![...s.tasks.values()].some((t) => t.abandoned))) {
      // A worker killed at its time limit counts again once its replacement has opened the
      // replica; one still running a statement that timed out (interrupt floor) once it is done.
      for (const w of readyWaiters.splice(0)) w.resolve();
    }
  };

  /** Replaces the slot at `index` now, or after a backoff when the last start failed. */
  const replace = (slot: Slot, failedStart: boolean) => {
    const index = slots.indexOf(slot);
    if (index < 0) return;
    if (closed || fatal !== undefined) {
      slots.splice(index, 1);
      return;
    }
    if (!failedStart) {
      slots[index] = spawn();
      // A successor that died before it was ready: its own replacement takes over the retirement.
      slots[index]!.replaces = slot.replaces;
      return;
    }
    // Keep the dead slot in place (it is not usable) and retry all failed slots together.
    if (respawnTimer !== undefined) return;
    const delay = respawnDelay;
    respawnDelay = Math.min(RESPAWN_MAX_MS, respawnDelay * 2);
    respawnTimer = setTimeout(() => {
      respawnTimer = undefined;
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        if (s.exited && !closed && fatal === undefined) {
          slots[i] = spawn();
          slots[i]!.replaces = s.replaces;
        }
      }
    }, delay);
    respawnTimer.unref();
  };

  const releaseTasks = (slot: Slot, reason: string) => {
    const held = [...slot.tasks.values()];
    slot.tasks.clear();
    const requeue: Task[] = [];
    for (const task of held) {
      if (task.abandoned) continue;
      if (closed) {
        clearTimeout(task.timer);
        task.reject(new QueryError('QUERY_UNAVAILABLE', 'the query service is closed'));
      } else if (slot.killedFor !== undefined || slot.child === undefined || !task.retried) {
        // Behind a statement killed at its time limit, or on a worker that died (killed from
        // outside, OOM): run it elsewhere, once; a query that kills its worker twice fails.
        if (slot.killedFor === undefined && slot.child !== undefined) task.retried = true;
        // Innocent queries that waited behind the one that timed out: run them elsewhere.
        task.worker = undefined;
        task.sentAt = undefined;
        requeue.push(task);
      } else {
        clearTimeout(task.timer);
        task.reject(new QueryError('QUERY_INTERNAL', `query worker exited (${reason})`));
      }
    }
    queue.unshift(...requeue);
    return held.length;
  };

  const spawn = (): Slot => {
    spawned++;
    const slot: Slot = {
      child: undefined,
      ready: false,
      headSince: 0,
      demoted: false,
      watched: undefined,
      replaces: undefined,
      retired: false,
      tasks: new Map(),
      exited: false,
      dying: false,
      killedFor: undefined,
    };
    const failStart = (error: unknown) => {
      if (slot.exited) return;
      slot.exited = true;
      options.onWorkerExit?.({
        reason: 'spawn_failed',
        detail: error instanceof Error ? error.message : String(error),
      });
      releaseTasks(slot, 'not started');
      replace(slot, true);
      settleReady();
      if (closed || fatal !== undefined) failQueue();
      else dispatch();
    };
    const child = launcher.start({
      modulePath: worker.path,
      args: [options.databasePath, String(busyTimeoutMs)],
      execArgv: ['--disable-warning=ExperimentalWarning', ...worker.execArgv],
    });
    slot.child = child;
    // A start that failed (EMFILE, the worker died before connecting): retried after a backoff.
    child.on('startFailed', failStart);
    // The channel keeps this process alive only while starting or busy.
    child.on('message', (raw, payload) => {
      const message = raw as WorkerMessage;
      if ('ready' in message) {
        slot.ready = true;
        respawnDelay = RESPAWN_MIN_MS;
        child.setBusy(false);
        const old = slot.replaces;
        if (old !== undefined) {
          slot.replaces = undefined;
          old.retired = true;
          old.dying = true;
          if (old.tasks.size === 0) old.child?.kill();
        }
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
      slot.headSince = performance.now();
      if (slot.tasks.size === 0) {
        child.setBusy(false);
        if (slot.retired) child.kill();
        else if (slot.demoted) retire(slot);
      }
      clearTimeout(task.timer);
      if (!task.abandoned) {
        const {
          id: _id,
          payloadBytes: _bytes,
          ...result
        } = message as WorkerResult & {
          id: number;
          payloadBytes?: number;
        };
        // The rows arrived as the frame's payload.
        if ('ok' in result && result.ok) result.rows = payload ?? Buffer.alloc(0);
        task.resolve(result);
      } else {
        settleReady();
      }
      dispatch();
    });
    child.on('exit', (code, signal) => {
      if (slot.exited) return;
      slot.exited = true;
      const reason = `code ${code}, signal ${signal}`;
      const held = releaseTasks(slot, reason);
      if (held > 0 && !closed && slot.killedFor === undefined) {
        options.onWorkerExit?.({ reason: 'crash', detail: reason });
      } else if (held === 0 && !closed && !slot.dying && fatal === undefined) {
        options.onWorkerExit?.({ reason: 'crash', detail: `idle worker exited (${reason})` });
      }
      // A demoted worker that ended while its successor starts: the successor takes its place.
      const successor = slots.find((s) => s.replaces === slot);
      if (successor !== undefined) successor.replaces = undefined;
      if (slot.retired || successor !== undefined) {
        const index = slots.indexOf(slot);
        if (index >= 0) slots.splice(index, 1);
      } else {
        replace(slot, false);
      }
      settleReady();
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

  /** The client whose tasks `slot` holds: a worker only ever holds one client's tasks. */
  const ownerOf = (slot: Slot): string | undefined => slot.tasks.values().next().value?.client;
  /** Workers holding at least one task of `client`. */
  const workersOf = (client: string) => {
    let n = 0;
    for (const slot of slots) if (ownerOf(slot) === client) n++;
    return n;
  };

  /** How often each client's statements were interrupted (bounded: the oldest entries go). */
  const strikes = new Map<string, number>();
  const strikesOf = (client: string) => strikes.get(client) ?? 0;
  /** When each client last had a query dispatched (a counter; bounded: the oldest entries go). */
  const lastServed = new Map<string, number>();
  let serveTick = 0;
  const lastServedOf = (client: string) => lastServed.get(client) ?? -1;
  const served = (client: string) => {
    lastServed.delete(client);
    lastServed.set(client, serveTick++);
    if (lastServed.size > 10_000) lastServed.delete(lastServed.keys().next().value!);
  };
  /** Clients whose statement was interrupted lately, until when (performance.now()). */
  const penalized = new Map<string, number>();
  const isPenalized = (client: string) => {
    const until = penalized.get(client);
    if (until === undefined) return false;
    if (until > performance.now()) return true;
    penalized.delete(client);
    return false;
  };

  let lastRetire = Number.NEGATIVE_INFINITY;
  let demoteTimer: NodeJS.Timeout | undefined;
  /**
   * Nices each worker whose current statement has used demoteAfterMs of CPU time since the check
   * first saw it (wall time where /proc is missing); stops once every worker is idle.
   */
  const checkDemotions = () => {
    const now = performance.now();
    let busy = false;
    for (const slot of slots) {
      if (slot.tasks.size === 0 || !usable(slot)) continue;
      busy = true;
      if (slot.demoted) continue;
      const pid = slot.child?.pid;
      const head = slot.tasks.values().next().value!;
      const ticks = pid === undefined ? undefined : cpuTicksOf(pid);
      if (ticks === undefined) {
        if (now - slot.headSince < demoteAfterMs) continue;
      } else if (slot.watched?.task !== head) {
        slot.watched = { task: head, ticks };
        continue;
      } else if ((ticks - slot.watched.ticks) * MS_PER_TICK < demoteAfterMs) {
        continue;
      }
      slot.demoted = true;
      try {
        if (pid !== undefined) setPriority(pid, demotedNice);
      } catch {
        // gone already, or not permitted: it keeps running at this process's priority
      }
    }
    if (!busy && demoteTimer !== undefined) {
      clearInterval(demoteTimer);
      demoteTimer = undefined;
    }
  };
  const watchDemotions = () => {
    if (workerNice === 0 || demoteTimer !== undefined || closed) return;
    demoteTimer = setInterval(checkDemotions, Math.max(5, demoteAfterMs / 2));
    demoteTimer.unref();
  };
  /**
   * Starts a successor for an idle demoted worker (niceness can only go up without privileges);
   * the demoted one serves until the successor is ready, then ends. One at a time, at most one
   * per RETIRE_EVERY_MS: a client whose statements keep running long cannot make the pool start
   * a process per query (its workers stay demoted meanwhile).
   */
  const retire = (slot: Slot) => {
    const now = performance.now();
    if (closed || fatal !== undefined || !usable(slot) || slot.retired || slot.tasks.size > 0) {
      return;
    }
    if (now - lastRetire < RETIRE_EVERY_MS || slots.some((s) => s.replaces !== undefined)) return;
    lastRetire = now;
    const successor = spawn();
    successor.replaces = slot;
    slots.push(successor);
  };

  /**
   * The worker a query of `client` may go to now, the least loaded (a full-priority one before a
   * demoted one): an empty worker, or one that holds only this client's queries with room in its
   * pipeline and no stalled statement. Queries are pipelined only behind the same client's:
   * nobody waits inside a worker behind another client's statement (which may never end); they
   * wait in the queue, where preemption can reach them. `alone`: only an empty worker (a
   * penalized client, or any client while one holding no worker waits). `atCap`: only workers
   * this client already occupies.
   */
  const pickSlot = (
    client: string,
    atCap: boolean,
    alone: boolean,
    now: number,
  ): Slot | undefined => {
    let best: Slot | undefined;
    for (const candidate of slots) {
      if (!usable(candidate) || candidate.child === undefined) continue;
      const size = candidate.tasks.size;
      if (size >= PIPELINE_DEPTH || (alone && size > 0)) continue;
      const oldest = candidate.tasks.values().next().value;
      if (oldest !== undefined) {
        if (oldest.client !== client) continue;
        if (oldest.sentAt !== undefined && now - oldest.sentAt > PIPELINE_STALL_MS) continue;
      } else if (atCap) {
        continue;
      }
      if (
        best === undefined ||
        size < best.tasks.size ||
        (size === best.tasks.size && best.demoted && !candidate.demoted)
      ) {
        best = candidate;
      }
    }
    return best;
  };

  /** Whether some worker could take a query now (pickSlot's conditions, for any client). */
  const anyOpenSlot = (now: number) => {
    for (const slot of slots) {
      if (!usable(slot) || slot.child === undefined || slot.tasks.size >= PIPELINE_DEPTH) continue;
      const oldest = slot.tasks.values().next().value;
      if (oldest?.sentAt === undefined || now - oldest.sentAt <= PIPELINE_STALL_MS) return true;
    }
    return false;
  };

  /**
   * Sends queued queries to workers, in three passes: clients holding no worker first (those
   * interrupted least often, then the one served least recently: a client arriving behind
   * hundreds of queued queries of others gets the next free worker), then the rest in arrival
   * order, then clients whose statements were interrupted lately (each alone on an idle worker).
   * While a client holding no worker waits, nobody adds to a worker's pipeline: a client that keeps
   * its worker's pipeline topped up would otherwise keep that worker for as long as it has queries
   * queued, and the waiting client would never get one.
   *
   * One walk of the queue per pass, and a client refused a worker is not asked again in the same
   * pass (nothing it could get frees up meanwhile): a long queue costs O(queue), not
   * O(queue x workers) with a sort, on every reply (measured: the sorting dispatch took ~45 us of
   * the main thread per query once 100 queries queued, which made a backlog feed itself).
   */
  const dispatch = () => {
    // Every worker busy (e.g. hogged by never-ending statements): nothing can move.
    if (queue.length === 0) return;
    const now = performance.now();
    if (!anyOpenSlot(now)) return;
    const occupied = new Map<string, number>();
    for (const slot of slots) {
      const owner = ownerOf(slot);
      if (owner !== undefined) occupied.set(owner, (occupied.get(owner) ?? 0) + 1);
    }
    const penalties = new Map<string, boolean>();
    const penalty = (client: string) => {
      let p = penalties.get(client);
      if (p === undefined) {
        p = isPenalized(client);
        penalties.set(client, p);
      }
      return p;
    };
    const taken = new Set<Task>();
    const send = (task: Task, target: Slot) => {
      if (target.tasks.size === 0) {
        target.headSince = now;
        occupied.set(task.client, (occupied.get(task.client) ?? 0) + 1);
        watchDemotions();
      }
      taken.add(task);
      target.tasks.set(task.id, task);
      task.worker = target;
      task.sentAt = now;
      served(task.client);
      const child = target.child!;
      child.setBusy(true);
      const message: WorkerRequestMessage = { id: task.id, ...task.request };
      child.send(message, (error) => {
        // A channel that failed on a live worker: end it, its exit replaces it.
        if (error && target.tasks.has(task.id) && !target.dying) {
          target.dying = true;
          child.kill();
        }
      });
    };

    // 1. Clients holding no worker (not penalized): the first queued query of each.
    const heads: Task[] = [];
    const seen = new Set<string>();
    for (const task of queue) {
      if (seen.has(task.client)) continue;
      seen.add(task.client);
      if (!occupied.has(task.client) && !penalty(task.client)) heads.push(task);
    }
    heads.sort(
      (a, b) =>
        strikesOf(a.client) - strikesOf(b.client) ||
        lastServedOf(a.client) - lastServedOf(b.client),
    );
    let waiting = false;
    for (const task of heads) {
      const target = waiting ? undefined : pickSlot(task.client, false, false, now);
      if (target === undefined) waiting = true;
      else send(task, target);
    }

    // 2. Everyone else in arrival order, unless a client holding no worker still waits: then
    // only an empty worker could take a query, and pass 1 found none.
    const refused = new Set<string>();
    if (!waiting) {
      for (const task of queue) {
        if (taken.has(task) || refused.has(task.client) || penalty(task.client)) continue;
        const atCap = (occupied.get(task.client) ?? 0) >= maxWorkersPerClient;
        const target = pickSlot(task.client, atCap, false, now);
        if (target === undefined) refused.add(task.client);
        else send(task, target);
      }
    }

    // 3. Clients interrupted lately: each query alone on an idle worker.
    refused.clear();
    for (const task of queue) {
      if (taken.has(task) || refused.has(task.client) || !penalty(task.client)) continue;
      const atCap = (occupied.get(task.client) ?? 0) >= maxWorkersPerClient;
      const target = pickSlot(task.client, atCap, true, now);
      if (target === undefined) refused.add(task.client);
      else send(task, target);
    }

    if (taken.size > 0) {
      let kept = 0;
      for (const task of queue) if (!taken.has(task)) queue[kept++] = task;
      queue.length = kept;
    }
  };

  /**
   * Under contention, a statement that has run past the interrupt floor yields its worker: when a
   * queued query's client occupies no worker and no worker is free, the longest-running statement
   * (of another client) is interrupted. Many clients' never-ending statements then cannot hold
   * every worker while others wait.
   */
  const preempt = () => {
    if (closed) return;
    const now = performance.now();
    for (const slot of slots) if (slot.demoted && slot.tasks.size === 0) retire(slot);
    const longRunner = (slot: Slot) => {
      if (!usable(slot)) return undefined;
      const first = slot.tasks.values().next().value;
      if (first?.sentAt === undefined || now - first.sentAt < interruptFloorMs) return undefined;
      return first;
    };
    let victim: Task | undefined;
    // Another client's query pipelined behind a long statement waits for it: interrupt it.
    for (const slot of slots) {
      const first = longRunner(slot);
      if (first === undefined) continue;
      for (const t of slot.tasks.values()) {
        if (t !== first && !t.abandoned && t.client !== first.client) victim = first;
      }
      if (victim !== undefined) break;
    }
    // A queued query of a client holding no worker, and no worker free: the longest runner yields.
    if (
      victim === undefined &&
      queue.some((t) => workersOf(t.client) === 0) &&
      !slots.some((s) => !s.exited && (s.tasks.size === 0 || !usable(s)))
    ) {
      for (const slot of slots) {
        const first = longRunner(slot);
        if (first !== undefined && (victim === undefined || first.sentAt! < victim.sentAt!)) {
          victim = first;
        }
      }
    }
    if (victim === undefined) return;
    if (!victim.abandoned) {
      victim.abandoned = true;
      clearTimeout(victim.timer);
      victim.reject(
        new QueryError(
          'QUERY_TIMEOUT',
          'the statement was interrupted: it ran past the interrupt floor while other clients waited',
        ),
      );
    }
    interrupt(victim);
  };

  const interrupt = (task: Task) => {
    const slot = task.worker;
    if (slot === undefined || !slot.tasks.has(task.id) || slot.dying || slot.exited) return;
    slot.tasks.delete(task.id);
    // No new task goes to this worker; its exit handler spawns the replacement and re-queues the
    // queries it still held.
    slot.dying = true;
    slot.killedFor = task;
    penalized.set(task.client, performance.now() + PENALTY_MS);
    if (penalized.size > 10_000) penalized.delete(penalized.keys().next().value!);
    strikes.set(task.client, strikesOf(task.client) + 1);
    if (strikes.size > 10_000) strikes.delete(strikes.keys().next().value!);
    options.onWorkerExit?.({ reason: 'timeout', detail: task.request.sql.slice(0, 200) });
    slot.child?.kill();
  };

  const onDeadline = (task: Task) => {
    const slot = task.worker;
    if (slot === undefined) {
      const at = queue.indexOf(task);
      if (at >= 0) queue.splice(at, 1);
      task.reject(new QueryError('QUERY_TIMEOUT', 'the query timed out waiting for a worker'));
      return;
    }
    if (!slot.tasks.has(task.id)) return;
    task.abandoned = true;
    task.reject(
      new QueryError('QUERY_TIMEOUT', 'the statement ran past its time limit and was interrupted'),
    );
    const ranMs = performance.now() - (task.sentAt ?? performance.now());
    if (ranMs >= interruptFloorMs) {
      interrupt(task);
    } else {
      // Fast statements finish on their own: let them, and kill only one that is still running.
      task.timer = setTimeout(() => interrupt(task), interruptFloorMs - ranMs);
    }
  };

  for (let i = 0; i < size; i++) slots.push(spawn());
  preemptTimer = setInterval(preempt, PREEMPT_CHECK_MS);
  preemptTimer.unref();

  return {
    size,
    get spawned() {
      return spawned;
    },
    get available() {
      let n = 0;
      for (const slot of slots) if (usable(slot)) n++;
      return n;
    },
    ready() {
      return new Promise<void>((resolve, reject) => {
        readyWaiters.push({ resolve, reject });
        settleReady();
      });
    },
    run(request, deadline, client = '') {
      if (closed || fatal !== undefined) {
        return Promise.reject(
          new QueryError(
            'QUERY_UNAVAILABLE',
            closed ? 'the query service is closed' : `query worker cannot start: ${fatal}`,
          ),
        );
      }
      if (queue.length >= maxQueue) {
        // Full: the client with the most queued queries gives up its newest one, unless that is
        // this client (a few clients cannot fill the queue for everyone).
        const counts = new Map<string, number>();
        for (const t of queue) counts.set(t.client, (counts.get(t.client) ?? 0) + 1);
        let top: string | undefined;
        let most = 0;
        for (const [c, n] of counts) {
          if (n > most) {
            most = n;
            top = c;
          }
        }
        if (top === undefined || top === client || most <= (counts.get(client) ?? 0) + 1) {
          return Promise.reject(
            new QueryError('QUERY_BUSY', `too many queries waiting (${maxQueue}); retry later`),
          );
        }
        for (let i = queue.length - 1; i >= 0; i--) {
          const t = queue[i]!;
          if (t.client !== top) continue;
          queue.splice(i, 1);
          clearTimeout(t.timer);
          t.reject(
            new QueryError('QUERY_BUSY', `too many queries waiting (${maxQueue}); retry later`),
          );
          break;
        }
      }
      if (respawnTimer !== undefined && !slots.some(usable)) {
        return Promise.reject(
          new QueryError('QUERY_UNAVAILABLE', 'no query worker can be started now; retry later'),
        );
      }
      return new Promise<WorkerResult>((resolve, reject) => {
        const task: Task = {
          request,
          id: nextId++,
          client,
          resolve,
          reject,
          timer: undefined,
          abandoned: false,
          retried: false,
        };
        task.timer = setTimeout(() => onDeadline(task), Math.max(0, deadline - performance.now()));
        queue.push(task);
        dispatch();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (respawnTimer !== undefined) clearTimeout(respawnTimer);
      if (preemptTimer !== undefined) clearInterval(preemptTimer);
      if (demoteTimer !== undefined) clearInterval(demoteTimer);
      failQueue();
      settleReady();
      const exits = slots.map((slot) => {
        const child = slot.child;
        if (slot.exited || child === undefined) {
          for (const task of slot.tasks.values()) {
            clearTimeout(task.timer);
            if (!task.abandoned) {
              task.reject(new QueryError('QUERY_UNAVAILABLE', 'the query service is closed'));
            }
          }
          return Promise.resolve();
        }
        // The launcher keeps this process alive until the worker is gone (or never started).
        child.kill();
        return child.done;
      });
      await Promise.all(exits);
      if (ownLauncher) await launcher.close();
    },
  };
}
