// Just over ~600 lines: the engine's loop (fetch, prepare, apply, commit, retry) around one state
// machine; applying messages, snapshots, failures, the state root and progress are their own
// modules (apply-message.ts, restore-snapshot.ts, failure-tracker.ts, state-root-tracker.ts,
// progress.ts).
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchIndex, type StorageFetcher } from '@synddb/fetchers';
import {
  type BatchInfo,
  MessageType,
  type MessageTypeName,
  messageTypeName,
} from '@synddb/protocol';
import { openStateStore, type StateStore } from '@synddb/state-store';
import type { Secp256k1Backend, VerifierPool } from '@synddb/verifier';
import type { Database } from 'better-sqlite3';
import { applyMessage, type WithdrawalHandler } from './apply-message';
import { HALT_RULES } from './classify';
import { SequenceGapError } from './errors';
import { FailureTracker } from './failure-tracker';
import {
  downloadBatch,
  type PreparedBatch,
  type PreparedMessage,
  prepareBatch,
} from './prepare-batch';
import type { PreparePool } from './prepare-pool';
import { ProgressTracker } from './progress';
import { restoreSnapshotMessage } from './restore-snapshot';
import { syncSingleMessage } from './single-message';
import type { SnapshotBatchLimits } from './snapshot-batch';
import { discardSpooled, snapshotSpoolPlace, sweepSnapshotSpools } from './snapshot-spool';
import { type StateRootHandler, StateRootTracker } from './state-root-tracker';
import type { AppliedMessage, SyncEvents, SyncState, SyncStatus } from './types';
import { UpdateResolver, type UpdateResolverOptions } from './update-resolver';
import type { ValidationRule } from './validation-rule';

/** How long the first sync step waits for the UPDATE resolver's worker to start. */
const RESOLVER_START_WAIT_MS = 10_000;
/**
 * A group with a state root resolver job runs to the job's end, up to this many `maxCommitMs`
 * (the job is sized to one and a changeset by the pace of the last group; past it, the group
 * ends early and the resolver's next job starts its overlay over).
 */
const JOB_GROUP_BUDGETS = 4;

export interface SyncEngineOptions {
  /** The replica (better-sqlite3, WAL). The engine is its only writer. */
  db: Database;
  /** Path of the replica file (needed to swap in snapshots); `:memory:` for in-memory replicas. */
  databasePath: string;
  fetcher: StorageFetcher;
  /** Trusted sequencer keys (64-byte X||Y). A batch must be signed by one of them. */
  sequencerPubkeys: readonly Uint8Array[];
  /** First sequence of a fresh replica. Default 0. Ignored once the replica has a cursor. */
  startSequence?: bigint;
  /** Batch mode (default) or the sequencer's single-message endpoint. */
  batchSync?: boolean;
  /** Poll interval when caught up. Default 1000. */
  syncIntervalMs?: number;
  /** Full re-listing interval of the batch index (incremental refreshes happen when caught up). Default 10000. */
  indexRefreshIntervalMs?: number;
  /**
   * Retries of a missing range or a storage error (from any fetcher) before the halt is reported
   * (`halted` event, `status().halt`); the engine keeps retrying after that. Default 5.
   */
  gapRetryCount?: number;
  /**
   * Longest wait between two attempts after a failure: the backoff grows from
   * `retryInitialDelayMs` to this, and a halted engine retries about this often. Default 5000.
   */
  gapRetryDelayMs?: number;
  /** Ceiling of the first wait after a failure (then doubling). Default min(250, gapRetryDelayMs). */
  retryInitialDelayMs?: number;
  /** Storage's Retry-After is honoured up to this, ms. Default 60000. */
  maxRetryAfterMs?: number;
  /** Skip a gap (and record it) after the retries instead of halting. Default false. */
  gapSkipOnFailure?: boolean;
  /** Batches fetched, decoded and verified ahead of the one being applied. Default 4. */
  prefetchBatches?: number;
  /** Messages grouped in one commit while catching up. Default 512. */
  maxMessagesPerTransaction?: number;
  /**
   * A commit stops taking more messages once it has run this long (it always takes one), and the
   * engine yields to the event loop between commits, so reads served by this process wait at most
   * about this long. Default 10. (With the state root's UPDATE resolver, a commit runs to the end
   * of its resolver job, sized by the pace of the last one to run this long and one changeset
   * more, and stops at 4x this.)
   */
  maxCommitMs?: number;
  /** Cap on a decompressed batch and on each decompressed changeset/withdrawal payload. Default 256 MiB. */
  maxDecompressedBatchBytes?: number;
  /**
   * Cap on a decompressed snapshot payload (its image), which is streamed to disk, never held in
   * memory: the bound on the disk a snapshot takes. Default 32 GiB.
   */
  maxSnapshotBytes?: number;
  /**
   * Cap on a batch that carries a snapshot and is over the fetcher's download cap (a snapshot
   * travels in one batch): such a batch is streamed, its snapshot payloads spooled to a file
   * beside the replica, never held in memory, while its other messages still count against
   * the ordinary caps. Bounds its download and its decompressed size. Default `maxSnapshotBytes`
   * plus 1/64 (zstd grows incompressible data by at most 1/256 in each of the two layers).
   */
  maxSnapshotBatchBytes?: number;
  /**
   * Free disk space a snapshot must leave on the replica's disk: a spooled payload needs its
   * length plus this before it is written, an image as it is written, and room for its copy
   * plus this before it is swapped in; else `INSUFFICIENT_DISK_SPACE` (retried). Default 64 MiB.
   */
  snapshotDiskReserveBytes?: number;
  /** Minimum interval between `progress` events. Default 5000. */
  progressIntervalMs?: number;
  withdrawalHandler?: WithdrawalHandler;
  /**
   * Invariant rules, checked in order after each changeset message's changes and before they
   * commit (inside the message's savepoint). The first failure rolls the message back and halts
   * the engine before it (`RULE_VIOLATION`, kind `rule`); it keeps retrying and resumes when the
   * rule passes. Not run for snapshots or withdrawals.
   */
  rules?: readonly ValidationRule[];
  /**
   * Keep the state root (an LtHash16 of the replica's content, see `StateRootTracker`): updated
   * with every applied message, persisted with the cursor. Default: true when `onStateRoot` is set.
   */
  stateRoot?: boolean;
  /** Called in the apply transaction after every message with its state root (implies `stateRoot`). */
  onStateRoot?: StateRootHandler;
  /**
   * With the state root kept, on a replica file in WAL mode: resolve the UPDATEs that leave
   * columns out on a worker thread with its own read connection while each group applies
   * (`UpdateResolver`), instead of on the applying thread after each changeset. Default true;
   * false, or an in-memory or non-WAL replica, resolves them on the applying thread.
   */
  updateResolver?: boolean | Omit<UpdateResolverOptions, 'path'>;
  backend?: Secp256k1Backend;
  /** Verify message signatures on these worker threads (the rest of preparing stays here). */
  pool?: VerifierPool;
  /**
   * Prepare batches (zstd, CBOR/COSE, every signature, payload decoding) on these worker threads,
   * so the applying thread only applies. Takes precedence over `pool`.
   */
  preparePool?: PreparePool;
  now?: () => number;
  /** Randomness for the retry jitter (tests). Default Math.random. */
  random?: () => number;
}

export interface SyncEngine extends EventEmitter<SyncEvents> {
  readonly db: Database;
  readonly state: StateStore;
  /** The state root, when kept (`stateRoot` / `onStateRoot` options); undefined otherwise. */
  readonly stateRoot: StateRootTracker | undefined;
  start(): void;
  stop(options?: { timeoutMs?: number }): Promise<void>;
  status(): SyncStatus;
}

interface PendingBatch {
  info: BatchInfo;
  result: Promise<PreparedBatch>;
  settled: boolean;
  /** Dropped (its spooled snapshot payloads are removed, now or once it is prepared). */
  dropped: boolean;
  /** The prepared batch once `result` resolved (a batch that failed never has one). */
  value?: PreparedBatch;
  /** Aborts its download when the batch is dropped (a failure, a skipped gap, stop()). */
  abort: AbortController;
}

const MiB = 1024 * 1024;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Creates the sync pipeline: fetch -> decompress -> verify -> apply -> record, with bounded prefetch. */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  return new Engine(options);
}

class Engine extends EventEmitter<SyncEvents> implements SyncEngine {
  readonly db: Database;
  readonly state: StateStore;
  readonly #o: Required<
    Omit<
      SyncEngineOptions,
      | 'withdrawalHandler'
      | 'rules'
      | 'backend'
      | 'pool'
      | 'preparePool'
      | 'db'
      | 'fetcher'
      | 'stateRoot'
      | 'onStateRoot'
      | 'updateResolver'
    >
  >;
  readonly #fetcher: StorageFetcher;
  readonly #options: SyncEngineOptions;
  readonly #index: BatchIndex;
  /** Where snapshot payloads too large to hold wait for their restore, and their bounds. */
  readonly #snapshotBatches: SnapshotBatchLimits;
  #indexRefreshedAt = 0;
  #state: SyncState = 'stopped';
  readonly #failures: FailureTracker;
  #pending: PendingBatch[] = [];
  #loop: Promise<void> | null = null;
  #abort = new AbortController();
  #messagesApplied = 0;
  #progress: ProgressTracker;
  /** One message in its own savepoint (nested inside the group's transaction). */
  readonly #applyOne: (message: PreparedMessage) => AppliedMessage;
  /** The state root, when kept (`stateRoot` / `onStateRoot`). */
  readonly stateRoot: StateRootTracker | undefined;

  constructor(options: SyncEngineOptions) {
    super();
    this.#options = options;
    this.db = options.db;
    this.#fetcher = options.fetcher;
    if (options.sequencerPubkeys.length === 0) {
      throw new TypeError('createSyncEngine: at least one trusted sequencer key is required');
    }
    const maxSnapshotBytes = options.maxSnapshotBytes ?? 32 * 1024 * MiB;
    this.#o = {
      databasePath: options.databasePath,
      sequencerPubkeys: options.sequencerPubkeys,
      startSequence: options.startSequence ?? 0n,
      batchSync: options.batchSync ?? true,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      indexRefreshIntervalMs: options.indexRefreshIntervalMs ?? 10_000,
      gapRetryCount: options.gapRetryCount ?? 5,
      gapRetryDelayMs: options.gapRetryDelayMs ?? 5000,
      retryInitialDelayMs:
        options.retryInitialDelayMs ?? Math.min(250, options.gapRetryDelayMs ?? 5000),
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      gapSkipOnFailure: options.gapSkipOnFailure ?? false,
      prefetchBatches: Math.max(1, options.prefetchBatches ?? 4),
      maxMessagesPerTransaction: Math.max(1, options.maxMessagesPerTransaction ?? 512),
      maxCommitMs: Math.max(0, options.maxCommitMs ?? 10),
      maxDecompressedBatchBytes: options.maxDecompressedBatchBytes ?? 256 * MiB,
      maxSnapshotBytes,
      maxSnapshotBatchBytes:
        options.maxSnapshotBatchBytes ?? maxSnapshotBytes + Math.ceil(maxSnapshotBytes / 64),
      snapshotDiskReserveBytes: options.snapshotDiskReserveBytes ?? 64 * MiB,
      progressIntervalMs: options.progressIntervalMs ?? 5000,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    this.state = openStateStore(this.db, { now: this.#o.now });
    this.#snapshotBatches = {
      maxBatchBytes: this.#o.maxSnapshotBatchBytes,
      spool: snapshotSpoolPlace(this.#o.databasePath, this.#o.snapshotDiskReserveBytes),
    };
    // Spool files a crash left behind (this engine is the replica's only writer).
    sweepSnapshotSpools(this.#snapshotBatches.spool);
    const keepRoot = options.stateRoot ?? options.onStateRoot !== undefined;
    this.stateRoot = keepRoot
      ? new StateRootTracker(this.db, this.state, this.#updateResolver(options.updateResolver))
      : undefined;
    const context = {
      db: this.db,
      state: this.state,
      startSequence: this.#o.startSequence,
      withdrawalHandler: options.withdrawalHandler,
      rules: options.rules === undefined ? undefined : [...options.rules],
      stateRoot: this.stateRoot,
      onStateRoot: keepRoot ? options.onStateRoot : undefined,
    };
    // Plain SAVEPOINT statements: what db.transaction() runs when nested, without its wrapper.
    const savepoint = this.db.prepare('SAVEPOINT synddb_message');
    const release = this.db.prepare('RELEASE synddb_message');
    const rollbackTo = this.db.prepare('ROLLBACK TO synddb_message');
    this.#applyOne = (m) => {
      savepoint.run();
      try {
        const applied = applyMessage(m, context);
        release.run();
        return applied;
      } catch (error) {
        // Undo this message only (an error that ended the whole transaction left nothing to undo).
        if (this.db.inTransaction) {
          rollbackTo.run();
          release.run();
        }
        throw error;
      }
    };
    this.#index = new BatchIndex();
    this.#failures = new FailureTracker(this.#o);
    this.#progress = new ProgressTracker(
      this.#o.progressIntervalMs,
      this.#o.now(),
      this.state.cursor()?.lastSequence ?? null,
    );
  }

  /** The UPDATE resolver's worker, when it can run on this replica (see `updateResolver`). */
  #updateResolver(option: SyncEngineOptions['updateResolver']): UpdateResolver | undefined {
    if (option === false) return undefined;
    const db = this.db;
    if (db.memory || db.name === '' || db.name === ':memory:') return undefined;
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
      return undefined;
    }
    return new UpdateResolver({
      ...(option === true ? {} : option),
      path: db.name,
      onFailed: (message) => this.emit('updateResolverFailed', { message }),
    });
  }

  start(): void {
    if (this.#loop !== null) return;
    this.#abort = new AbortController();
    this.#state = 'starting';
    this.#loop = this.#run().catch((error: unknown) => {
      // The loop itself never throws by design; anything here is a bug worth surfacing.
      this.#state = 'stopped';
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    });
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const loop = this.#loop;
    if (loop === null) {
      await this.stateRoot?.resolver?.stop();
      return;
    }
    this.#abort.abort();
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([loop.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    this.#loop = null;
    this.#dropPending();
    await this.stateRoot?.resolver?.stop();
    this.#state = 'stopped';
    if (result === 'timeout') {
      throw new Error(`sync engine did not stop within ${timeoutMs} ms`);
    }
  }

  status(): SyncStatus {
    const cursor = this.state.cursor();
    const head = this.#index.latest()?.endSequence ?? null;
    const last = cursor?.lastSequence ?? null;
    const lagSequences =
      head !== null && (last === null || head > last) ? head - (last ?? -1n) : 0n;
    const lagSeconds =
      lagSequences > 0n && cursor !== null
        ? Math.max(0, Math.floor(this.#o.now() / 1000) - Number(cursor.lastTimestamp))
        : 0;
    return {
      state: this.#state,
      lastSequence: last,
      lastTimestamp: cursor?.lastTimestamp ?? null,
      lastAppliedAt: cursor?.appliedAt ?? null,
      nextSequence: this.state.nextSequence(this.#o.startSequence),
      headSequence: head,
      lagSequences,
      lagSeconds,
      halt: this.#failures.halt === null ? null : { ...this.#failures.halt },
      skippedGaps: this.state.gaps(),
      messagesApplied: this.#messagesApplied,
    };
  }

  get #signal(): AbortSignal {
    return this.#abort.signal;
  }

  get #running(): boolean {
    return !this.#signal.aborted;
  }

  /**
   * The UPDATE resolver's worker starts with the engine, and the first sync step waits for it
   * (its start-up check included) for up to RESOLVER_START_WAIT_MS, so the first groups and a
   * bootstrap snapshot's image hash run on it too. A worker that fails is reported by
   * `updateResolverFailed` and the root is kept on this thread; one that is slow is taken once
   * ready.
   */
  async #resolverStarted(): Promise<void> {
    const resolver = this.stateRoot?.resolver;
    if (resolver === undefined) return;
    const ready = resolver.ready().then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), RESOLVER_START_WAIT_MS);
    });
    const aborted = new Promise<boolean>((resolve) => {
      this.#signal.addEventListener('abort', () => resolve(false), { once: true });
    });
    await Promise.race([ready, late, aborted]);
    clearTimeout(timer);
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#signal });
    } catch {
      // aborted: the loop checks #running next
    }
  }

  async #run(): Promise<void> {
    await this.#resolverStarted();
    this.#state = 'syncing';
    while (this.#running) {
      try {
        const progressed = this.#o.batchSync ? await this.#stepBatch() : await this.#stepSingle();
        if (!progressed && this.#running) await this.#pause(this.#o.syncIntervalMs);
      } catch (error) {
        if (!this.#running) break;
        await this.#onFailure(error);
      }
    }
  }

  /** One iteration in batch mode. Returns false when caught up (the caller sleeps). */
  async #stepBatch(): Promise<boolean> {
    const next = this.state.nextSequence(this.#o.startSequence);
    const now = this.#o.now();
    const stale = now - this.#indexRefreshedAt >= this.#o.indexRefreshIntervalMs;
    if (this.#index.size === 0 || stale) await this.#refreshIndex(stale);

    let info = this.#index.find(next);
    if (info === null) {
      // Not listed yet: refresh incrementally before concluding anything.
      await this.#refreshIndex(false);
      info = this.#index.find(next);
    }
    if (info === null) {
      const later = this.#index.next(next);
      if (later === null) {
        this.#markCaughtUp(next);
        return false;
      }
      await this.#onGap(next, later.startSequence);
      return true;
    }

    this.#fillPrefetch(info);
    const pending = this.#pending.shift();
    if (pending === undefined || pending.info.startSequence !== info.startSequence) {
      if (pending !== undefined) this.#pending.unshift(pending);
      this.#dropPending();
      return true;
    }
    this.emit('prefetchDepth', this.#pending.length);
    await this.#helpPrepare(pending);
    const prepared = await pending.result;
    // Prefetched batches that are ready join this one's commits: fewer, larger transactions
    // (bounded by maxMessagesPerTransaction and maxCommitMs as ever) when messages are small.
    let messages = prepared.messages;
    let last = prepared.info;
    while (messages.length < this.#o.maxMessagesPerTransaction) {
      const following = this.#pending[0]?.value;
      if (following === undefined || following.info.startSequence !== last.endSequence + 1n) break;
      this.#pending.shift();
      messages = messages.concat(following.messages);
      last = following.info;
    }
    // Top the prefetch up before applying, so the next batches are prepared meanwhile.
    if (this.#pending.length === 0) {
      const following = this.#index.find(last.endSequence + 1n);
      if (following !== null && following.startSequence === last.endSequence + 1n) {
        this.#fillPrefetch(following);
      }
    } else {
      this.#fillPrefetch(null);
    }
    try {
      await this.#applyMessages(messages, next);
    } finally {
      // A snapshot's spooled payload goes once it is restored; this catches the ones that were
      // not (a message before them failed, stop()): the batch is downloaded again on a retry.
      await discardSpooled(messages);
    }
    this.#fillPrefetch(null);
    return true;
  }

  /**
   * While the batch to apply next is still being prepared, prepares batches waiting for a prepare
   * worker here (`PreparePool#prepareWaitingHere`): with one worker (two cores) and small
   * messages the worker, which verifies every signature, is the bottleneck and this thread would
   * otherwise wait. Only batches that are already downloaded and not taken by a worker; the one
   * awaited may be among them.
   */
  async #helpPrepare(pending: PendingBatch): Promise<void> {
    const pool = this.#options.preparePool;
    if (pool === undefined) return;
    while (!pending.settled && this.#running && pool.prepareWaitingHere()) {
      // Let the workers' replies and the downloads in before looking again.
      await yieldToEventLoop();
    }
  }

  async #refreshIndex(full: boolean): Promise<void> {
    await this.#index.refresh(this.#fetcher, { full, signal: this.#signal });
    if (full || this.#indexRefreshedAt === 0) this.#indexRefreshedAt = this.#o.now();
  }

  /** Keeps up to `prefetchBatches` contiguous batches in flight, starting at `first` or after the last queued. */
  #fillPrefetch(first: BatchInfo | null): void {
    if (this.#pending.length === 0 && first === null) return;
    let cursor: BatchInfo | null =
      this.#pending.length === 0 ? first : this.#pending[this.#pending.length - 1]!.info;
    if (this.#pending.length === 0 && cursor !== null) this.#enqueue(cursor);
    while (this.#pending.length < this.#o.prefetchBatches && cursor !== null) {
      const following = this.#index.find(cursor.endSequence + 1n);
      if (following === null || following.startSequence !== cursor.endSequence + 1n) break;
      this.#enqueue(following);
      cursor = following;
    }
  }

  #enqueue(info: BatchInfo): void {
    const abort = new AbortController();
    const context = {
      fetcher: this.#fetcher,
      trustedKeys: this.#o.sequencerPubkeys,
      maxDecompressedBatchBytes: this.#o.maxDecompressedBatchBytes,
      stateDeltas: this.stateRoot !== undefined,
      backend: this.#options.backend,
      pool: this.#options.pool,
      snapshotBatches: this.#snapshotBatches,
      signal: AbortSignal.any([this.#signal, abort.signal]),
      onFetched: (e: { startSequence: bigint; bytes: number; seconds: number }) =>
        this.emit('batchFetched', e),
      onVerified: (e: { startSequence: bigint; messages: number; seconds: number }) =>
        this.emit('batchVerified', e),
    };
    const preparePool = this.#options.preparePool;
    const entry: PendingBatch = {
      info,
      settled: false,
      dropped: false,
      abort,
      result:
        preparePool === undefined
          ? prepareBatch(info, context)
          : downloadBatch(info, context).then(async (downloaded) => {
              // A batch that carries a snapshot too large to download whole comes prepared.
              if (downloaded.kind === 'prepared') return downloaded.batch;
              const { blob } = downloaded;
              const started = performance.now();
              const bytes = blob.byteLength; // a large blob is moved to the worker
              const messages = await preparePool.prepare(info, blob, context);
              context.onVerified({
                startSequence: info.startSequence,
                messages: messages.length,
                seconds: (performance.now() - started) / 1000,
              });
              return { info, messages, bytes };
            }),
    };
    entry.result.then(
      (value) => {
        entry.settled = true;
        entry.value = value;
        if (entry.dropped) void discardSpooled(value.messages);
      },
      () => {
        // Surfaced when the batch reaches the head of the queue; earlier batches still apply.
        entry.settled = true;
      },
    );
    this.#pending.push(entry);
  }

  /** Forgets the prefetched batches and aborts their downloads still in flight. */
  #dropPending(): void {
    const dropped = this.#pending;
    this.#pending = [];
    for (const entry of dropped) {
      entry.dropped = true;
      if (!entry.settled) entry.abort.abort(new Error('prefetched batch dropped'));
      else if (entry.value !== undefined) void discardSpooled(entry.value.messages);
    }
  }

  /** Applies the (contiguous) messages at or after `next`, grouping them into few commits. */
  async #applyMessages(all: readonly PreparedMessage[], next: bigint): Promise<void> {
    const messages =
      all[0] !== undefined && all[0].sequence >= next ? all : all.filter((m) => m.sequence >= next);
    let i = 0;
    while (i < messages.length && this.#running) {
      const message = messages[i]!;
      if (message.type === MessageType.Snapshot) {
        await this.#applySnapshot(message);
        i++;
        continue;
      }
      let j = i;
      while (
        j < messages.length &&
        j - i < this.#o.maxMessagesPerTransaction &&
        messages[j]!.type !== MessageType.Snapshot
      ) {
        j++;
      }
      i += this.#commitGroup(messages.slice(i, j));
      // Let I/O run between commits (HTTP reads, downloads, worker replies): a prepared batch
      // resolves as a microtask, which alone would starve everything else while catching up.
      await yieldToEventLoop();
    }
  }

  /**
   * Commits a group of messages in one transaction, each in its own savepoint. When message k
   * fails, messages before k still commit (with the cursor exactly at k-1) and the error halts the
   * engine at k. The group ends early once `maxCommitMs` is spent, so the thread is never held
   * for long. Returns how many messages it committed.
   */
  #commitGroup(group: readonly PreparedMessage[]): number {
    const started = performance.now();
    const applied: AppliedMessage[] = [];
    let failure: unknown = null;
    const applyOne = this.#applyOne;
    const budget = this.#o.maxCommitMs;
    const tracker = this.stateRoot;
    tracker?.beginGroup(group, budget);
    try {
      this.db.transaction(() => {
        for (const message of group) {
          try {
            applied.push(applyOne(message));
          } catch (error) {
            failure = error;
            break;
          }
          if (tracker?.groupFull(applied.length)) break;
          // A group with a resolver job ends where the job ends (sized to the budget by the
          // pace of the last one), unless it runs far past the budget.
          const limit = tracker?.groupHasJob ? budget * JOB_GROUP_BUDGETS : budget;
          if (performance.now() - started >= limit) break;
        }
        // The root's state commits with the cursor it follows.
        if (tracker !== undefined && applied.length > 0) tracker.persist(applied.at(-1)!.sequence);
        // What the group commits, told before the commit (the resolver's worker then ends its
        // read at once): every message it started when none failed. A failed commit takes it
        // back (reload).
        tracker?.endGroup(failure === null);
      })();
    } catch (error) {
      tracker?.reload();
      throw error;
    }
    if (applied.length > 0) this.#afterCommit(applied, started);
    if (failure !== null) throw failure;
    return applied.length;
  }

  async #applySnapshot(message: Extract<PreparedMessage, { type: 2 }>): Promise<void> {
    const started = performance.now();
    const bytes = await restoreSnapshotMessage(message, {
      db: this.db,
      databasePath: this.#o.databasePath,
      state: this.state,
      maxSnapshotBytes: this.#o.maxSnapshotBytes,
      diskReserveBytes: this.#o.snapshotDiskReserveBytes,
      startSequence: this.#o.startSequence,
      stateRoot: this.stateRoot,
      onStateRoot: this.#options.onStateRoot,
    });
    this.emit('snapshot', { sequence: message.sequence, timestamp: message.timestamp, bytes });
    this.#afterCommit(
      [
        {
          sequence: message.sequence,
          timestamp: message.timestamp,
          messageType: MessageType.Snapshot,
          changesets: [],
        },
      ],
      started,
    );
  }

  #afterCommit(applied: AppliedMessage[], started: number): void {
    this.#messagesApplied += applied.length;
    const previous = this.#failures.progressed();
    const byType: Partial<Record<MessageTypeName, number>> = {};
    for (const m of applied) {
      const name = messageTypeName(m.messageType);
      byType[name] = (byType[name] ?? 0) + 1;
    }
    this.emit('messagesCommitted', {
      count: applied.length,
      seconds: (performance.now() - started) / 1000,
      byType,
    });
    if (previous !== null) {
      this.emit('resumed', {
        sequence: applied[0]!.sequence,
        haltedFor: this.#o.now() - previous.since,
        previous,
      });
    }
    this.#state = 'syncing';
    this.emit('applied', applied);
    const last = applied[applied.length - 1]!.sequence;
    const report = this.#progress.sample(
      this.#o.now(),
      last,
      this.#index.latest()?.endSequence ?? null,
    );
    if (report !== null) this.emit('progress', report);
  }

  #markCaughtUp(next: bigint): void {
    // Storage answered and has nothing at `next`: a storage halt is over, and a missing range is
    // no longer claimed by a later batch. Nothing to apply, so no commit would clear it.
    const previous = this.#failures.caughtUp();
    if (previous !== null) {
      this.emit('resumed', {
        sequence: next,
        haltedFor: this.#o.now() - previous.since,
        previous,
      });
    }
    if (this.#failures.halt === null && this.#state !== 'caught_up') {
      this.#state = 'caught_up';
      this.emit('caughtUp', { sequence: next === 0n ? null : next - 1n });
    }
  }

  /** A missing range: skipped once its retries are spent when allowed, else a failure. */
  async #onGap(start: bigint, end: bigint): Promise<void> {
    const error = new SequenceGapError(start, end, this.#failures.nextTransientAttempt);
    if (this.#failures.gapRetriesSpent && this.#o.gapSkipOnFailure) {
      const reason = error.message;
      this.state.recordGap({ start, end, reason });
      this.#failures.gapSkipped();
      this.#dropPending();
      this.emit('gapSkipped', { start, end, reason });
      return;
    }
    throw error;
  }

  /** Every failed step: see FailureTracker for the rule. */
  async #onFailure(error: unknown): Promise<void> {
    this.#dropPending();
    const sequence = this.state.nextSequence(this.#o.startSequence);
    const { retry, newHalt } = this.#failures.fail(error, sequence);
    if (HALT_RULES[retry.kind].signatureFailure) {
      this.emit('signatureFailure', { sequence, code: retry.code });
    }
    if (newHalt !== null) {
      this.#state = 'halted';
      this.emit('halted', { ...newHalt });
    }
    this.emit('retrying', retry);
    // Force a fresh listing before the retry: storage may have repaired or replaced the batch.
    this.#indexRefreshedAt = 0;
    await this.#pause(retry.delayMs);
  }

  async #stepSingle(): Promise<boolean> {
    const next = this.state.nextSequence(this.#o.startSequence);
    const outcome = await syncSingleMessage(next, {
      fetcher: this.#fetcher,
      trustedKeys: this.#o.sequencerPubkeys,
      maxDecompressedBatchBytes: this.#o.maxDecompressedBatchBytes,
      signal: this.#signal,
    });
    if (outcome.kind === 'absent') {
      if (outcome.latest !== null && outcome.latest > next) {
        // Later messages exist: the missing one is a gap (probe like the reference: up to +10).
        const end = outcome.nextAvailable ?? next + 1n;
        await this.#onGap(next, end);
        return true;
      }
      this.#markCaughtUp(next);
      return false;
    }
    const message = outcome.message;
    if (message.type === MessageType.Snapshot) {
      await this.#applySnapshot(message);
    } else {
      this.#commitGroup([message]);
    }
    return true;
  }
}
