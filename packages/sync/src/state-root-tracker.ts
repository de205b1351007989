import {
  type ApplyResult,
  applyStateDelta,
  type ChangesetStateDelta,
  changesetStateDelta,
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
  #readers = new Map<string, TableReader>();
  /** The current group's job: its entries and the next one to be applied. */
  #job: JobEntry[] | null = null;
  #jobNext = 0;
  /**
   * Every changeset applied since the resolver's last job was walked by it, in that job, and
   * committed: its next job may continue from the worker's snapshot and overlay.
   */
  #continuation = false;
  /** The worker is hashing a snapshot's image (`imageReady`). */
  #image = false;
  /** Times the root was recomputed from scratch (start, snapshots, omitted changes). */
  recomputations = 0;

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
   */
  beginGroup(group: readonly PreparedMessage[]): void {
    if (this.#job !== null) this.#abandon();
    const resolver = this.#resolver;
    if (resolver === undefined || !resolver.usable) return;
    const changesets: Uint8Array[] = [];
    const deltas: (ChangesetStateDelta | null | undefined)[] = [];
    for (const message of group) {
      if (message.type !== MessageType.Changeset) continue;
      const list = message.request.changesets;
      for (let i = 0; i < list.length; i++) {
        if (list[i]!.data.byteLength === 0) continue;
        changesets.push(list[i]!.data);
        deltas.push(message.deltas?.[i]);
      }
    }
    this.#job = resolver.start(changesets, deltas, this.recomputations, this.#continuation);
    this.#jobNext = 0;
    // a group applied without a job (nothing to resolve) changes what the worker's overlay knows
    if (this.#job === null && changesets.length > 0) this.#continuation = false;
  }

  /**
   * At the end of the group's transaction, right before its commit. `committed`: the group
   * commits every changeset it started to apply (no message failed); the worker may then go on
   * with its overlay next time. A commit that then fails must `reload()`.
   */
  endGroup(committed = false): void {
    if (this.#job === null) return;
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

  restore(mark: Uint16Array): void {
    this.#hash.set(mark);
  }

  /** Before the applier applies `changeset` (of the current group): the worker may start on it. */
  applying(changeset: Uint8Array): void {
    const job = this.#job;
    if (job === null) return;
    if (job[this.#jobNext]?.changeset === changeset) this.#resolver!.starting(this.#jobNext);
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
      this.#abandon();
    }
    applyStateDelta(this.#db, this.#hash, delta ?? changesetStateDelta(changeset), this.#readers);
  }

  /**
   * A snapshot's image is about to be swapped in: the resolver's worker (when ready) computes its
   * state hash from the image file while the swap runs, and `recompute` takes it.
   */
  imageReady(path: string): void {
    this.#abandon();
    this.#image = this.#resolver?.hashImage(path) ?? false;
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
