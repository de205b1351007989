import {
  type ApplyResult,
  applyStateDelta,
  type ChangesetStateDelta,
  changesetStateDelta,
  LtHash16,
  stateHashOfDatabase,
  type TableReader,
} from '@synddb/applier';
import type { MessageType } from '@synddb/protocol';
import type { StateStore } from '@synddb/state-store';
import type { Database } from 'better-sqlite3';

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
 * after the changeset is applied, and the LtHash16 state is persisted with the cursor in the
 * same transaction. Snapshots recompute it from scratch (O(database), like the restore itself).
 */
export class StateRootTracker {
  readonly #db: Database;
  readonly #state: StateStore;
  #hash = new LtHash16();
  #readers = new Map<string, TableReader>();
  /** Times the root was recomputed from scratch (start, snapshots, omitted changes). */
  recomputations = 0;

  constructor(db: Database, state: StateStore) {
    this.#db = db;
    this.#state = state;
    this.#load();
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
    applyStateDelta(this.#db, this.#hash, delta ?? changesetStateDelta(changeset), this.#readers);
  }

  /** From scratch, on the current transaction's view (after a snapshot swap, or omitted changes). */
  recompute(): void {
    this.#readers = new Map();
    this.#hash = stateHashOfDatabase(this.#db);
    this.recomputations++;
  }

  /** Persists the state as the state after `sequence`; inside the transaction of the data. */
  persist(sequence: bigint): void {
    this.#state.setStateRootState(sequence, this.#hash.toBytes());
  }

  /** After a failed commit: back to what the replica holds. */
  reload(): void {
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
