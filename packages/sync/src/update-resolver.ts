import { Worker } from 'node:worker_threads';
import {
  addStateHashChunk,
  type ChangesetStateDelta,
  changesetStateDelta,
  LTHASH_LANES,
  openStateHashFile,
  stateHashChunks,
  threadCpu,
} from '@synddb/applier';
import Database from 'better-sqlite3';
import {
  CANCELLED,
  COMMITTED,
  FAILED,
  HEADER_BYTES,
  type ImageHashMessage,
  jobLayout,
  NEXT_CHUNK,
  PLAN,
  PROGRESS,
  RELEASED,
  type ResolverJobMessage,
  SLOT_BYTES,
  SLOTS_DONE,
  TO_APPLIER,
} from './update-resolver-wire';

export interface UpdateResolverOptions {
  /** The replica's file (opened read-only by the worker; the replica must be in WAL mode). */
  path: string;
  /** Location of the worker module. Default: next to this module. */
  workerUrl?: URL | undefined;
  /**
   * How long the applying thread waits for a slot before it resolves the rest of the group
   * itself and stops using the worker (a stuck or dead worker). Default 5,000 ms.
   */
  waitMs?: number | undefined;
  /** Changeset bytes per job at most (the rest of a group is resolved inline). Default 512 KiB. */
  maxJobBytes?: number | undefined;
  /**
   * The worker's overlay of rows changed by earlier groups (which then need no read) is started
   * over after this long. Default 60,000 ms (its rows and bytes are bounded too: 250,000 rows,
   * 64 MiB).
   */
  maxOverlayMs?: number | undefined;
  /** Called once when the worker fails for good (every group is resolved inline from then on). */
  onFailed?: ((message: string) => void) | undefined;
}

/** One changeset of a group, as the job holds it. */
export interface JobEntry {
  changeset: Uint8Array;
  delta: ChangesetStateDelta;
  /** Its slot in the job, or -1 (no UPDATE to resolve: nothing to wait for). */
  slot: number;
}

/** Counters, for tests and benchmarks. */
export interface UpdateResolverStats {
  jobs: number;
  /** Changesets of the largest job handed to the worker. */
  largestJob: number;
  /** Slots whose lanes came from the worker. */
  slots: number;
  /** Jobs the worker failed or did not answer in time (the applying thread resolved the rest). */
  fallbacks: number;
  /** Time the applying thread waited for slots, ms. */
  waitMs: number;
  /** CPU time of the worker thread, ms (as of its last job). */
  workerCpuMs: number;
  /** Snapshot images hashed while they were swapped in (by the worker and the applying thread). */
  images: number;
  /** Chunks of those images the applying thread hashed (the worker hashed the rest). */
  imageChunksHere: number;
  /** Jobs that started a new overlay, and jobs that went on with the last one's. */
  overlays: number;
  continued: number;
  /** Rows of the last image the worker's overlay holds (both threads' chunks: it reads them all). */
  imageRowsKept: number;
  /**
   * Jobs at whose start the worker found itself on the applying thread's CPU and moved off it
   * (`leaveCpu`; Linux with the native kernel).
   */
  movedOffApplier: number;
}

/**
 * Takes the state root's UPDATE resolution (`applyStateDelta`'s indexed reads and element hashes,
 * the applying thread's largest cost on a stream of UPDATEs that leave columns out) to a worker
 * thread with its own read connection: `start(group)` before the group's transaction hands the
 * group's changesets to the worker, which resolves them on the replica as of the last commit
 * (`GroupUpdateResolver`: an overlay of the changes of this group and of the committed groups
 * before it) while the applying thread applies them; `take(slot)` then returns each changeset's lanes, waiting for them if needed. The
 * applying thread never commits before it has every slot it uses, so the worker's snapshot is
 * always the previous commit. Anything unusual (a worker error, a timeout, an apply that omitted
 * changes, a message that failed) ends the job, and the applying thread resolves the rest of the
 * group itself, as without the worker: both compute the same lanes.
 */
export class UpdateResolver {
  readonly #path: string;
  readonly #workerUrl: URL | undefined;
  readonly #waitMs: number;
  readonly #maxJobBytes: number;
  readonly #onFailed: ((message: string) => void) | undefined;
  readonly #maxOverlayMs: number;
  #worker: Worker | null = null;
  #ready = false;
  #readyWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  #broken = false;
  #job: { header: Int32Array; shared: SharedArrayBuffer; lanes: number } | null = null;
  /** The last job `finish`ed, until the next `start` (its group's commit may still fail). */
  #finished: { header: Int32Array } | null = null;
  /** Shared memory for jobs, reused once the worker has released it (RELEASED). */
  readonly #arenas: (SharedArrayBuffer | null)[] = [null, null, null];
  #nextArena = 0;
  #image: { header: Int32Array; shared: SharedArrayBuffer; path: string; id: number } | null = null;
  #imageId = 0;
  /** The worker keeps an image's rows as its overlay (its overlay is the native one). */
  #keepsImageRows = false;
  /** Written by the worker: its thread's CPU time (ms), overlays, continued (after each job), image rows kept. */
  readonly #workerStats = new Float64Array(new SharedArrayBuffer(40));
  readonly #stats: UpdateResolverStats = {
    jobs: 0,
    largestJob: 0,
    slots: 0,
    fallbacks: 0,
    waitMs: 0,
    workerCpuMs: 0,
    images: 0,
    imageChunksHere: 0,
    overlays: 0,
    continued: 0,
    imageRowsKept: 0,
    movedOffApplier: 0,
  };
  /** The worker's last error message, if any. */
  lastError: string | undefined;

  constructor(options: UpdateResolverOptions) {
    for (const name of ['waitMs', 'maxJobBytes', 'maxOverlayMs'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`UpdateResolver: ${name} must be a non-negative number, got ${value}`);
      }
    }
    this.#path = options.path;
    this.#workerUrl = options.workerUrl;
    this.#waitMs = options.waitMs ?? 5000;
    this.#maxJobBytes = options.maxJobBytes ?? 512 * 1024;
    this.#onFailed = options.onFailed;
    this.#maxOverlayMs = options.maxOverlayMs ?? 60_000;
  }

  /**
   * Whether the worker keeps a swapped-in image's rows as its overlay (its overlay is the native
   * one: false where the state-root kernel is WebAssembly, e.g. the addon not built). Known once
   * ready.
   */
  get keepsImageRows(): boolean {
    return this.#keepsImageRows;
  }

  /** Changeset bytes per job at most (`maxJobBytes`). */
  get maxJobBytes(): number {
    return this.#maxJobBytes;
  }

  /** Counters; `workerCpuMs` as of the worker's last job. */
  get stats(): UpdateResolverStats {
    this.#stats.workerCpuMs = this.#workerStats[0]!;
    this.#stats.overlays = this.#workerStats[1]!;
    this.#stats.continued = this.#workerStats[2]!;
    this.#stats.imageRowsKept = this.#workerStats[3]!;
    this.#stats.movedOffApplier = this.#workerStats[4]!;
    return this.#stats;
  }

  /**
   * Starts the worker now (it otherwise starts with the first group that has UPDATEs to resolve,
   * which is then resolved inline) and resolves once it can take jobs; rejects if it fails.
   */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#broken) return Promise.reject(new Error(`UPDATE resolver failed: ${this.lastError}`));
    this.#spawn();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** False once the worker failed for good (then every group is resolved inline). */
  get usable(): boolean {
    return !this.#broken;
  }

  /**
   * Hands a group's changesets (each changeset message's non-empty changesets and their deltas,
   * in apply order) to the worker. Returns the entries the job covers (a prefix of the group),
   * or null when there is no job: no UPDATE to resolve, the worker is not started yet (it starts
   * now and takes later groups), or it failed. `continuation`: nothing was applied since the
   * previous job but what its group committed (see `finish`), so the worker may keep its
   * snapshot and overlay.
   */
  start(
    changesets: readonly Uint8Array[],
    deltas: readonly (ChangesetStateDelta | null | undefined)[],
    epoch: number,
    continuation: boolean,
  ): JobEntry[] | null {
    if (this.#job !== null) this.cancel();
    this.#finished = null;
    if (this.#broken) return null;
    const entries: JobEntry[] = [];
    let bytes = 0;
    let slots = 0;
    let positionCount = 0;
    for (let i = 0; i < changesets.length; i++) {
      const changeset = changesets[i]!;
      if (entries.length > 0 && bytes + changeset.byteLength > this.#maxJobBytes) break;
      let delta = deltas[i];
      // Computed here (it would be when applied): the UPDATEs' positions are what the job sends.
      if (delta === null || delta === undefined) {
        delta = changesetStateDelta(changeset, { decodeUpdates: false });
      }
      const positions = delta.undecodedUpdates?.positions;
      const slot = positions !== undefined && positions.length > 0 ? slots++ : -1;
      if (slot >= 0) positionCount += positions!.length;
      entries.push({ changeset, delta, slot });
      bytes += (changeset.byteLength + 7) & ~7;
    }
    if (slots === 0) return null;
    if (!this.#ready) {
      this.#spawn();
      return null;
    }
    const layout = jobLayout(slots, entries.length, positionCount, bytes);
    const shared = this.#arena(layout.end);
    const header = new Int32Array(shared, 0, HEADER_BYTES / 4);
    header.fill(0);
    new Uint8Array(shared, layout.lanes, slots * SLOT_BYTES).fill(0);
    const bounds = new Uint32Array(shared, layout.bounds, entries.length * 4);
    const positions = new Uint32Array(shared, layout.positions, positionCount);
    const data = new Uint8Array(shared, layout.data, bytes);
    let at = 0;
    let p = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      data.set(e.changeset, at);
      bounds[4 * i] = at;
      bounds[4 * i + 1] = at + e.changeset.byteLength;
      at += (e.changeset.byteLength + 7) & ~7;
      bounds[4 * i + 2] = p;
      if (e.slot >= 0) {
        const list = e.delta.undecodedUpdates!.positions;
        positions.set(list, p);
        p += list.length;
      }
      bounds[4 * i + 3] = p;
    }
    const message: ResolverJobMessage = {
      kind: 'group',
      epoch,
      continuation,
      cpu: threadCpu(),
      shared,
      slots,
      changesets: entries.length,
      positions: positionCount,
      bytes,
    };
    this.#worker!.postMessage(message);
    this.#job = { header, shared, lanes: layout.lanes };
    this.#stats.jobs++;
    if (entries.length > this.#stats.largestJob) this.#stats.largestJob = entries.length;
    return entries;
  }

  /**
   * The lanes of `slot` of the current job (a view of shared memory, valid until the next
   * `start`), waiting for the worker; null when the job failed, was cancelled or timed out (the
   * caller resolves the slot itself, and the job ends).
   */
  take(slot: number): Uint16Array | null {
    const job = this.#job;
    if (job === null) return null;
    const header = job.header;
    let deadline = 0;
    let waited = 0;
    for (;;) {
      // the tick first: a slot or a failure after this load changes it (the wait returns at once)
      const tick = Atomics.load(header, TO_APPLIER);
      const done = Atomics.load(header, SLOTS_DONE);
      if (done > slot) {
        if (waited !== 0) this.#stats.waitMs += performance.now() - waited;
        this.#stats.slots++;
        return new Uint16Array(job.shared, job.lanes + slot * SLOT_BYTES, LTHASH_LANES);
      }
      if (Atomics.load(header, FAILED) !== 0) break;
      const now = performance.now();
      if (deadline === 0) {
        deadline = now + this.#waitMs;
        waited = now;
      } else if (now >= deadline) {
        // stuck, dead or starved for this long: stop relying on it
        this.#fail(`no answer within ${this.#waitMs} ms`);
        break;
      }
      Atomics.wait(header, TO_APPLIER, tick, Math.max(1, deadline - now));
    }
    if (waited !== 0) this.#stats.waitMs += performance.now() - waited;
    this.#stats.fallbacks++;
    this.cancel();
    return null;
  }

  /**
   * The group committed with the job's first `entries` changesets, every one it started, and
   * nothing else: the worker stops there and may continue from its snapshot with the next job.
   */
  finish(entries: number): void {
    const job = this.#job;
    if (job === null) return;
    this.#job = null;
    this.#finished = job;
    Atomics.store(job.header, COMMITTED, entries + 1);
  }

  /**
   * Ends the current job otherwise (the worker stops before its next changeset and starts its
   * overlay over), or, when there is none, takes back the last `finish` (its commit failed).
   */
  cancel(): void {
    const job = this.#job ?? this.#finished;
    this.#job = null;
    this.#finished = null;
    if (job === null) return;
    Atomics.store(job.header, CANCELLED, 1);
  }

  /**
   * Has the worker start on the state hash of a snapshot's image file (read-only, from scratch)
   * while the applying thread swaps it in; `takeImage` finishes it. The worker keeps the image's
   * rows as its overlay for the first job of `epoch` (the jobs after the swap), which goes on
   * with them when `start` says so (`continuation`: the swap committed). False when the worker
   * is not ready (the caller computes it itself).
   */
  hashImage(path: string, epoch: number): boolean {
    this.cancel();
    this.#image = null;
    if (this.#broken || !this.#ready) return false;
    const shared = new SharedArrayBuffer(HEADER_BYTES + SLOT_BYTES);
    const id = ++this.#imageId;
    const message: ImageHashMessage = { kind: 'image', path, shared, id, epoch, cpu: threadCpu() };
    this.#worker!.postMessage(message);
    this.#image = { header: new Int32Array(shared, 0, HEADER_BYTES / 4), shared, path, id };
    return true;
  }

  /**
   * The hash `hashImage` started (its 1024 lanes): the applying thread, which would otherwise
   * wait, hashes the chunks the worker has not taken yet (from its own connection to the image
   * file), then waits for the worker's share as long as the worker makes progress (a heartbeat
   * per chunk and every 16,384 rows; `waitMs` without one gives up). Null when there is none, it
   * failed or the worker stopped answering (the caller computes it itself).
   */
  takeImage(): Uint16Array | null {
    const job = this.#image;
    this.#image = null;
    if (job === null) return null;
    const header = job.header;
    const own = new Uint16Array(LTHASH_LANES);
    let total = -1;
    let here = 0;
    try {
      const image = new Database(job.path, { readonly: true, fileMustExist: true });
      // its rows straight from the file's pages where the native reader takes them
      const file = openStateHashFile(job.path);
      try {
        const chunks = stateHashChunks(image);
        for (let i = Atomics.add(header, NEXT_CHUNK, 1); i < chunks.length; ) {
          here++;
          addStateHashChunk(image, chunks[i]!, own, undefined, undefined, file);
          i = Atomics.add(header, NEXT_CHUNK, 1);
        }
        total = chunks.length;
      } finally {
        file?.close();
        image.close();
      }
    } catch {
      // a chunk taken here and not hashed: the worker's share cannot complete the hash
      if (here > 0) return null;
    }
    this.#stats.imageChunksHere += here;
    if (total >= 0 && here === total) {
      this.#stats.images++;
      return own;
    }
    let beat = Atomics.load(header, PROGRESS);
    let deadline = performance.now() + this.#waitMs;
    for (;;) {
      const tick = Atomics.load(header, TO_APPLIER);
      if (Atomics.load(header, SLOTS_DONE) !== 0) {
        // both shares are of the same chunks only if both threads cut the file the same way
        if (total >= 0 && Atomics.load(header, PLAN) !== total + 1) return null;
        this.#stats.images++;
        const worker = new Uint16Array(job.shared, HEADER_BYTES, LTHASH_LANES);
        for (let i = 0; i < LTHASH_LANES; i++) own[i] = own[i]! + worker[i]!;
        return own;
      }
      if (Atomics.load(header, FAILED) !== 0) return null;
      const now = performance.now();
      const progress = Atomics.load(header, PROGRESS);
      if (progress !== beat) {
        beat = progress;
        deadline = now + this.#waitMs;
      } else if (now >= deadline) {
        this.#fail(`no answer within ${this.#waitMs} ms (image hash)`);
        return null;
      }
      Atomics.wait(header, TO_APPLIER, tick, Math.max(1, deadline - now));
    }
  }

  /** Terminates the worker (a later `start` starts another). */
  async stop(): Promise<void> {
    this.cancel();
    this.#image = null;
    const worker = this.#worker;
    this.#worker = null;
    this.#ready = false;
    const stopped = new Error('UPDATE resolver stopped');
    for (const w of this.#readyWaiters.splice(0)) w.reject(stopped);
    if (worker === null) return;
    worker.removeAllListeners();
    await worker.terminate();
  }

  /** Whether its worker thread is running (started, not stopped, not failed). */
  get running(): boolean {
    return this.#worker !== null && !this.#broken;
  }

  /**
   * Shared memory of at least `bytes` for the next job: the next of a few in turn when the worker
   * has released it (it has, unless several jobs ended before it took the first), else new.
   */
  #arena(bytes: number): SharedArrayBuffer {
    const i = this.#nextArena;
    this.#nextArena = (i + 1) % this.#arenas.length;
    const arena = this.#arenas[i];
    if (
      arena !== null &&
      arena !== undefined &&
      arena.byteLength >= bytes &&
      Atomics.load(new Int32Array(arena, 0, HEADER_BYTES / 4), RELEASED) === 1
    ) {
      return arena;
    }
    const size = Math.max(bytes, arena?.byteLength ?? 0, 1 << 20);
    const fresh = new SharedArrayBuffer(size);
    this.#arenas[i] = fresh;
    return fresh;
  }

  /** The worker is no longer used: terminated, its waiters rejected, `onFailed` told once. */
  #fail(message: string): void {
    if (this.#broken) return;
    this.#broken = true;
    this.lastError = message;
    void this.#worker?.terminate();
    const error = new Error(`UPDATE resolver failed: ${message}`);
    for (const w of this.#readyWaiters.splice(0)) w.reject(error);
    this.#onFailed?.(message);
  }

  #spawn(): void {
    if (this.#worker !== null) return;
    const here = import.meta.url;
    const fromSource = here.endsWith('.ts');
    const url =
      this.#workerUrl ??
      new URL(fromSource ? './update-resolver-worker.ts' : './update-resolver-worker.js', here);
    const worker = new Worker(url, {
      execArgv: fromSource ? ['--conditions=source', '--import', 'tsx'] : [],
      workerData: {
        path: this.#path,
        stats: this.#workerStats.buffer,
        maxOverlayMs: this.#maxOverlayMs,
      },
    });
    // Never what keeps the process alive: the applying thread waits for it only inside a group.
    worker.unref();
    worker.on(
      'message',
      (m: { ready?: boolean; keepsImageRows?: boolean; failed?: string; unusable?: string }) => {
        if (m.unusable !== undefined) this.#fail(`start-up check: ${m.unusable}`);
        if (m.ready === true) {
          this.#ready = true;
          this.#keepsImageRows = m.keepsImageRows === true;
          for (const w of this.#readyWaiters.splice(0)) w.resolve();
        }
        if (m.failed !== undefined) this.lastError = m.failed;
      },
    );
    worker.on('error', (error) => this.#fail(error.message));
    worker.on('exit', (code) => {
      this.#worker = null;
      this.#fail(`worker exited with code ${code}`);
    });
    this.#worker = worker;
  }
}
