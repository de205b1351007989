import {
  type ApplyResult,
  applyStateDelta,
  type ChangesetStateDelta,
  changesetStateDelta,
  LTHASH_LANES,
  LtHash16,
  stateHashOfDatabase,
  type TableReader,
} from '@synddb/applier';
import { MessageType } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';
import type { PreparedMessage } from './prepare-batch';
import type { JobEntry, UpdateResolver } from './update-resolver';

/**
 * Changesets of the first resolver job, before a group has given a pace (whole messages, the
 * first one always): a group of them runs to the job's end, so not many.
 */
const FIRST_JOB_CHANGESETS = 4;

/**
 * Called inside the apply transaction after each message (snapshots included) when the engine
 * keeps a state root: e.g. to queue a state attestation in the outbox. `stateRoot()` is the root
 * of the replica's content after this message (computed on demand).
 */
export type StateRootHandler = (context: {
  sequence: bigint;
  timestamp: bigint;
  messageType: MessageType;
  /** keccak256 of the message's signed (compressed) payload: the protocol's `message_hash`. */
  messageHash: Uint8Array;
  stateRoot: () => Uint8Array;
  state: StateStore;
  db: Database;
}) => void;

/**
 * The replica's state root, maintained incrementally: each applied changeset adds its delta
 * (precomputed on a prepare worker, or here), its UPDATEs are resolved against the replica right
 * after the changeset is applied (or, with an `UpdateResolver`, on its worker while the group
 * applies), and the LtHash16 state is persisted with the cursor in the same transaction.
 * Snapshots recompute it from scratch (O(database), like the restore itself).
 */
export class StateRootTracker {
  readonly #db: Database;
  readonly #state: StateStore;
  readonly #resolver: UpdateResolver | undefined;
  #hash = new LtHash16();
  /** `checkpoint()`'s copy of the lanes. */
  readonly #checkpoint = new Uint16Array(LTHASH_LANES);
  /** The lanes of a changeset's delta computed here, added at once. */
  readonly #deltaLanes = new Uint16Array(LTHASH_LANES);
  #readers = new Map<string, TableReader>();
  /** The current group's job: its entries and the next one to be applied. */
  #job: JobEntry[] | null = null;
  #jobNext = 0;
  /** The messages the job covers (the group ends with them), and when the group began. */
  #jobMessages = 0;
  #groupStarted = 0;
  /** Changesets applied in the current group (`applied`), for its pace. */
  #groupChangesets = 0;
  /** Time per changeset of the last group with a job (0: none yet), ms. */
  #msPerChangeset = 0;
  /**
   * Every changeset applied since the resolver's last job was walked by it, in that job, and
   * committed: its next job may continue from the worker's snapshot and overlay.
   */
  #continuation = false;
  /** The worker is hashing a snapshot's image (`imageReady`). */
  #image = false;
  /** Times the root was recomputed from scratch (start, snapshots, omitted changes). */
  recomputations = 0;
  /** Groups that went on past their resolver job (the rest was resolved on this thread). */
  pastJob = 0;
  /**
   * Groups that committed before their resolver job's end (a failed message, or past the time
   * the engine gives a job's group): the worker walked further, and its next overlay starts over.
   */
  shortOfJob = 0;

  constructor(db: Database, state: StateStore, resolver?: UpdateResolver) {
    this.#db = db;
    this.#state = state;
    this.#resolver = resolver;
    this.#load();
  }

  /** The UPDATE resolver's worker, when the engine runs one. */
  get resolver(): UpdateResolver | undefined {
    return this.#resolver;
  }

  /**
   * Before a group's transaction: hands its changesets to the resolver's worker, if any. Must be
   * called after the previous group committed (the worker reads the replica as of that commit).
   * `budgetMs`: how long the group may run (the engine's `maxCommitMs`): the job then holds as
   * many of its first messages as the last group's pace of applying fits in it, and one changeset
   * more, as a group without a job runs to the first message past it (4 changesets before there
   * is a pace), not every pending message; the group ends where the job ends
   * (`groupFull`): the worker walks the whole job at once.
   */
  beginGroup(group: readonly PreparedMessage[], budgetMs?: number): void {
    if (this.#job !== null) this.#abandon();
    this.#jobMessages = 0;
    this.#groupStarted = performance.now();
    this.#groupChangesets = 0;
    const resolver = this.#resolver;
    if (resolver === undefined || !resolver.usable) return;
    // the group is the job (the worker walks all of it at once): as many changesets as the last
    // group's pace fits in the budget, and one more (FIRST_JOB_CHANGESETS before there is a
    // pace): a group without a job stops at the first message past its budget, and one with a
    // job runs as long (no more commits for the same stream; each commit of a stream of UPDATEs
    // writes most of the table's pages to the WAL)
    const limit =
      budgetMs === undefined
        ? Number.POSITIVE_INFINITY
        : this.#msPerChangeset <= 0
          ? FIRST_JOB_CHANGESETS
          : Math.max(1, Math.floor(budgetMs / this.#msPerChangeset) + 1);
    const changesets: Uint8Array[] = [];
    const deltas: (ChangesetStateDelta | null | undefined)[] = [];
    let bytes = 0;
    let messages = 0;
    for (const message of group) {
      const before = changesets.length;
      const bytesBefore = bytes;
      if (message.type === MessageType.Changeset) {
        const list = message.request.changesets;
        for (let i = 0; i < list.length; i++) {
          if (list[i]!.data.byteLength === 0) continue;
          changesets.push(list[i]!.data);
          deltas.push(message.deltas?.[i]);
          bytes += list[i]!.data.byteLength;
        }
      }
      // whole messages only, the first one always (a message the job cuts is resolved inline)
      if (messages > 0 && (changesets.length > limit || bytes > resolver.maxJobBytes)) {
        changesets.length = before;
        deltas.length = before;
        bytes = bytesBefore;
        break;
      }
      messages++;
    }
    this.#job = resolver.start(changesets, deltas, this.recomputations, this.#continuation);
    this.#jobNext = 0;
    if (this.#job !== null) this.#jobMessages = messages;
    // a group applied without a job (nothing to resolve) changes what the worker's overlay knows
    if (this.#job === null && changesets.length > 0) this.#continuation = false;
  }

  /**
   * Whether the group has applied every message of the resolver's job (`applied`: messages
   * applied so far in the group): the engine then commits it, and the next group's job goes on
   * from there (the rest of a group past its job would be resolved on this thread).
   */
  groupFull(applied: number): boolean {
    return this.#job !== null && this.#jobMessages > 0 && applied >= this.#jobMessages;
  }

  /**
   * The group has a resolver job, which its worker walks whole: the group should end where the
   * job ends (`groupFull`), not before (a group that commits less than the worker walked makes
   * the next job start its overlay over).
   */
  get groupHasJob(): boolean {
    return this.#job !== null && this.#jobMessages > 0;
  }

  /**
   * At the end of the group's transaction, right before its commit. `committed`: the group
   * commits every changeset it started to apply (no message failed); the worker may then go on
   * with its overlay next time. A commit that then fails must `reload()`.
   */
  endGroup(committed = false): void {
    if (committed && this.#groupChangesets > 0) {
      // the pace of this group (with a job or not), for the size of the next job
      this.#msPerChangeset = (performance.now() - this.#groupStarted) / this.#groupChangesets;
    }
    if (this.#job === null) return;
    if (committed && this.#jobNext < this.#job.length) this.shortOfJob++;
    this.#job = null;
    if (committed) {
      this.#resolver!.finish(this.#jobNext);
      this.#continuation = true;
    } else {
      this.#abandon();
    }
  }

  /** Ends the job without the worker's overlay: it starts over from a new snapshot. */
  #abandon(): void {
    this.#job = null;
    this.#continuation = false;
    this.#resolver?.cancel();
  }

  /** The 32-byte state root of the replica's content as applied so far (this transaction included). */
  root(): Uint8Array {
    return this.#hash.digest();
  }

  /** A copy of the state, to restore when a message rolls back. */
  mark(): Uint16Array {
    return this.#hash.lanes.slice();
  }

  /**
   * `mark()` into the tracker's own buffer, for the engine's message savepoints: no new array per
   * message (each a malloc'ed backing store for V8 to sweep). One checkpoint at a time: the next
   * replaces it.
   */
  checkpoint(): void {
    this.#checkpoint.set(this.#hash.lanes);
  }

  /** Back to the last `checkpoint()`. */
  rollbackToCheckpoint(): void {
    this.#hash.set(this.#checkpoint);
  }

  restore(mark: Uint16Array): void {
    this.#hash.set(mark);
  }

  /**
   * Adds a changeset the applier has just applied (in this transaction). `delta` may be
   * precomputed (null: computed here). When the apply omitted changes (an INSERT onto an
   * existing key), the precomputed delta does not describe the replica: recompute from scratch.
   */
  applied(
    changeset: Uint8Array,
    delta: ChangesetStateDelta | null | undefined,
    result: ApplyResult,
  ): void {
    this.#groupChangesets++;
    if (result.omitted > 0 || result.replaced > 0) {
      this.recompute();
      return;
    }
    const job = this.#job;
    if (job !== null) {
      const entry = job[this.#jobNext];
      if (entry !== undefined && entry.changeset === changeset) {
        this.#jobNext++;
        if (entry.slot < 0) {
          applyStateDelta(this.#db, this.#hash, entry.delta, this.#readers);
          return;
        }
        const lanes = this.#resolver!.take(entry.slot);
        if (lanes !== null) {
          this.#hash.addLanes(entry.delta.lanes);
          this.#hash.addLanes(lanes);
          return;
        }
        // the worker failed or gave up: this changeset and the rest of the group resolve here
        this.#abandon();
        applyStateDelta(this.#db, this.#hash, entry.delta, this.#readers);
        return;
      }
      // past the job's prefix of the group, or not the changeset it expected
      this.pastJob++;
      this.#abandon();
    }
    // A delta computed here goes into one buffer, added at once (no 2 KiB array per changeset:
    // on a stream of small messages the applying thread computes most of them)
    applyStateDelta(
      this.#db,
      this.#hash,
      delta ?? changesetStateDelta(changeset, { lanes: this.#deltaLanes }),
      this.#readers,
    );
  }

  /**
   * A snapshot's image is about to be swapped in: the resolver's worker (when ready) computes its
   * state hash from the image file while the swap runs, and `recompute` takes it.
   */
  imageReady(path: string): void {
    this.#abandon();
    // the jobs after the swap are of the epoch recompute() starts
    this.#image = this.#resolver?.hashImage(path, this.recomputations + 1) ?? false;
  }

  /**
   * From scratch, on the current transaction's view (after a snapshot swap, or omitted changes).
   * After `imageReady`, the image's hash from the worker, which is the swapped-in content's (the
   * swap copies the image's tables as they are; `_synddb_*` tables are not state either way).
   */
  recompute(): void {
    // The job's lanes assume every changeset applies as written: no longer true.
    this.#abandon();
    this.#readers = new Map();
    const lanes = this.#image ? this.#resolver!.takeImage() : null;
    this.#image = false;
    this.#hash = lanes !== null ? new LtHash16(lanes) : stateHashOfDatabase(this.#db);
    this.recomputations++;
    // The worker holds the image's rows (the content once this swap commits): its first job may
    // go on with them. A failed commit takes it back (reload).
    if (lanes !== null) this.#continuation = true;
  }

  /** Persists the state as the state after `sequence`; inside the transaction of the data. */
  persist(sequence: bigint): void {
    this.#state.setStateRootState(sequence, this.#hash.toBytes());
  }

  /** After a failed commit: back to what the replica holds. */
  reload(): void {
    this.#abandon();
    if (this.#image) this.#resolver!.takeImage();
    this.#image = false;
    this.#readers = new Map();
    this.#load();
  }

  #load(): void {
    const stored = this.#state.stateRootState();
    const cursor = this.#state.cursor();
    if (stored !== null && cursor !== null && stored.sequence === cursor.lastSequence) {
      this.#hash = LtHash16.fromBytes(stored.lthash);
      return;
    }
    // Never written, written by an older version, or left behind by a gap skip: from scratch.
    this.recompute();
    if (cursor !== null) {
      this.#db.transaction(() => this.persist(cursor.lastSequence))();
    }
  }
}
