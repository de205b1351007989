import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { applyChangeset, LtHash16, stateRootOfDatabase } from '@synddb/applier';
import { MessageType } from '@synddb/protocol';
import { openStateStore } from '@synddb/state-store';
import { onCleanup, tempDir } from '@synddb/test-support';
import { describe, expect, it, vi } from 'vitest';
import { createPreparePool, type StateRootHandler, StateRootTracker } from '../src/index';
import type { PreparedMessage } from '../src/prepare-batch';
import { UpdateResolver } from '../src/update-resolver';
import {
  devnetWithWorkload,
  dumpReplica,
  dumpSource,
  openReplica,
  startEngine,
  waitForSequence,
} from './support';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The tracker tests' table: UPDATEs of v leave w out, so each must be resolved from the row. */
const TRACKER_SCHEMA = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INTEGER)';
const TRACKER_ROWS = "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)";

/** A source database with the tracker tests' rows, and a way to record a changeset of SQL on it. */
function trackerSource(dir: string) {
  const source = new DatabaseSync(join(dir, 'source.db'));
  source.exec(TRACKER_SCHEMA);
  source.exec(TRACKER_ROWS);
  const record = (sql: string) => {
    const session = source.createSession();
    source.exec(sql);
    const changeset = session.changeset();
    session.close();
    return changeset;
  };
  return { source, record };
}

/** A replica with the same rows, its UPDATE resolver (ready) and a tracker over both. */
async function trackedReplica(dir: string) {
  const path = join(dir, 'replica.db');
  const db = openReplica(path);
  db.exec(TRACKER_SCHEMA);
  db.exec(TRACKER_ROWS);
  const resolver = new UpdateResolver({ path });
  onCleanup(() => resolver.stop());
  await resolver.ready();
  const tracker = new StateRootTracker(db, openStateStore(db), resolver);
  return { db, resolver, tracker };
}

/** A changeset message of one changeset, as the engine hands it to the tracker. */
const changesetMessage = (sequence: number, data: Uint8Array) =>
  ({
    type: MessageType.Changeset,
    sequence: BigInt(sequence),
    timestamp: 0n,
    messageHash: new Uint8Array(32),
    request: { changesets: [{ data }] },
  }) as unknown as PreparedMessage;

/** Records the root after every message, and what kind of message it was. */
function recorder() {
  const roots = new Map<bigint, { root: string; type: number; messageHash: string }>();
  const onStateRoot: StateRootHandler = (c) => {
    roots.set(c.sequence, {
      root: hex(c.stateRoot()),
      type: c.messageType,
      messageHash: hex(c.messageHash),
    });
  };
  return { roots, onStateRoot };
}

describe('state root', () => {
  it('replay, snapshot bootstrap and a restarted replica publish the same roots', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 160,
      seed: 31,
      snapshotEvery: 50,
    });
    const snapshots = devnet.app.sent
      .filter((m) => m.kind === 'snapshot')
      .map((m) => BigInt(m.sequence));
    expect(snapshots.length).toBeGreaterThanOrEqual(3);

    // A: replays everything, deltas computed on prepare workers (all of them: no payload left to
    // this thread), sent packed with their UPDATEs as positions in the changeset
    const pool = createPreparePool({ size: 1, callerDecodeMaxBytes: 0 });
    const a = recorder();
    const replay = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      preparePool: pool,
      onStateRoot: a.onStateRoot,
    });
    await waitForSequence(replay.engine, head);
    await pool.close();

    // B: starts on the second snapshot, one message per transaction, deltas on this thread
    const b = recorder();
    const bootstrap = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      startSequence: snapshots[1]!,
      maxMessagesPerTransaction: 1,
      onStateRoot: b.onStateRoot,
    });
    await waitForSequence(bootstrap.engine, head);

    // C: stopped half way and restarted on the same file (the root resumes from the replica)
    const c = recorder();
    const first = startEngine({ url: devnet.url, pubkey: devnet.pubkey, stateRoot: true });
    const middle = head / 2n;
    await waitForSequence(first.engine, middle);
    await first.engine.stop();
    first.db.close();
    const second = startEngine(
      { url: devnet.url, pubkey: devnet.pubkey, onStateRoot: c.onStateRoot },
      first.path,
    );
    expect(second.engine.stateRoot?.recomputations).toBe(0);
    await waitForSequence(second.engine, head);

    // every path gives the same root at every sequence it went through
    for (let s = snapshots[1]!; s <= head; s++) expect(b.roots.get(s)).toEqual(a.roots.get(s));
    const resumedAt = second.engine.status().messagesApplied;
    expect(resumedAt).toBeGreaterThan(0);
    for (const [s, r] of c.roots) expect(r).toEqual(a.roots.get(s));
    expect(a.roots.size).toBe(Number(head) + 1);

    // a snapshot of unchanged content (the app flushed its changesets first) recomputes the root
    // the changesets had built: replayed changes == from scratch
    for (const s of snapshots.slice(1)) {
      expect(a.roots.get(s)?.type).toBe(2);
      expect(a.roots.get(s)?.root).toBe(a.roots.get(s - 1n)?.root);
    }
    // withdrawals change nothing; changesets change the root
    for (const [s, r] of a.roots) {
      if (r.type === 1) expect(r.root).toBe(a.roots.get(s - 1n)?.root);
    }
    expect(new Set([...a.roots.values()].map((r) => r.root)).size).toBeGreaterThan(100);

    // the persisted state is the root of the replica's content, recomputed from scratch
    for (const replica of [replay, bootstrap, second]) {
      expect(dumpReplica(replica.db)).toEqual(dumpSource(devnet.app.db));
      const fromScratch = hex(stateRootOfDatabase(replica.db));
      expect(hex(replica.engine.stateRoot!.root())).toBe(fromScratch);
      const stored = openStateStore(replica.db).stateRootState();
      expect(stored?.sequence).toBe(head);
      expect(hex(LtHash16.fromBytes(stored!.lthash).digest())).toBe(fromScratch);
      expect(fromScratch).toBe(a.roots.get(head)?.root);
    }
  }, 120_000);

  it('an existing replica without a stored root gets one from scratch at start', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 40,
      seed: 32,
      snapshotEvery: 30,
    });
    const plain = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    await waitForSequence(plain.engine, head);
    await plain.engine.stop();
    plain.db.close();
    const db = openReplica(plain.path);
    expect(openStateStore(db).stateRootState()).toBeNull();
    db.close();
    const rooted = startEngine(
      { url: devnet.url, pubkey: devnet.pubkey, stateRoot: true },
      plain.path,
    );
    expect(rooted.engine.stateRoot?.recomputations).toBe(1);
    const stored = openStateStore(rooted.db).stateRootState();
    expect(stored?.sequence).toBe(head);
    expect(hex(rooted.engine.stateRoot!.root())).toBe(hex(stateRootOfDatabase(rooted.db)));
  }, 60_000);
});

describe('StateRootTracker', () => {
  it('recomputes from scratch when the apply omitted a change (INSERT onto an existing key)', () => {
    const dir = tempDir('synddb-sync-tracker-');
    const schema = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)';
    const source = new DatabaseSync(join(dir, 'source.db'));
    source.exec(schema);
    const session = source.createSession();
    source.exec("INSERT INTO t VALUES (1, 'from the changeset'), (2, 'b')");
    const changeset = session.changeset();
    session.close();
    source.close();

    const db = openReplica(join(dir, 'replica.db'));
    db.exec(schema);
    db.exec("INSERT INTO t VALUES (1, 'already here')");
    const tracker = new StateRootTracker(db, openStateStore(db));
    const before = tracker.recomputations;
    db.transaction(() => {
      const result = applyChangeset(db, changeset, { transaction: 'caller' });
      expect(result.omitted).toBe(1);
      tracker.applied(changeset, null, result);
    })();
    expect(tracker.recomputations).toBe(before + 1);
    expect(hex(tracker.root())).toBe(hex(stateRootOfDatabase(db)));
    db.close();
  });

  it('sizes resolver jobs by the pace of every group: a first message without UPDATEs does not leave the rest to this thread', async () => {
    const dir = tempDir('synddb-sync-tracker-jobs-');
    const { source, record } = trackerSource(dir);
    // an INSERT (nothing to resolve), then UPDATEs that leave w out (resolved from the row)
    const changesets = [
      record("INSERT INTO t VALUES (3, 'c', 3)"),
      record("UPDATE t SET v = 'x' WHERE id = 1"),
      record("UPDATE t SET v = 'y' WHERE id = 2"),
      record("INSERT INTO t VALUES (4, 'd', 4)"),
      record("UPDATE t SET v = 'z' WHERE id = 3"),
    ];
    source.close();
    const { db, resolver, tracker } = await trackedReplica(dir);
    const message = (i: number) => changesetMessage(i, changesets[i]!);
    const group = (from: number, to: number) => {
      const messages = changesets.slice(from, to).map((_, k) => message(from + k));
      tracker.beginGroup(messages, 10);
      const hasJob = tracker.groupHasJob;
      db.transaction(() => {
        for (const m of messages) {
          const data = (m as { request: { changesets: { data: Uint8Array }[] } }).request
            .changesets[0]!.data;
          tracker.applied(data, null, applyChangeset(db, data, { transaction: 'caller' }));
        }
        tracker.endGroup(true);
      })();
      return hasJob;
    };
    // before any pace: the job holds more than the first message, which has nothing to resolve
    expect(group(0, 3)).toBe(true);
    // a pace now, from that group; the next job again looks past its first message
    expect(group(3, 5)).toBe(true);
    expect(resolver.stats.slots).toBe(3);
    expect(tracker.pastJob).toBe(0);
    expect(hex(tracker.root())).toBe(hex(stateRootOfDatabase(db)));
    db.close();
  });

  it('sizes a job to run its budget at the last pace, and one changeset past it, as a group without a job runs', async () => {
    const dir = tempDir('synddb-sync-tracker-pace-');
    const { source, record } = trackerSource(dir);
    // UPDATEs that leave w out: each changeset has one to resolve
    const changesets = Array.from({ length: 20 }, (_, i) =>
      record(`UPDATE t SET v = 'v${i}' WHERE id = ${1 + (i % 2)}`),
    );
    source.close();
    const { db, resolver, tracker } = await trackedReplica(dir);
    // the tracker's clock: each group takes exactly the time the test says
    let now = 1000;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    onCleanup(() => clock.mockRestore());
    let next = 0;
    /** Offers every remaining changeset; applies what the group's job holds in `ms`. */
    const group = (ms: number) => {
      const messages = changesets.slice(next).map((data, k) => changesetMessage(next + k, data));
      tracker.beginGroup(messages, 10);
      let applied = 0;
      db.transaction(() => {
        for (const data of changesets.slice(next)) {
          tracker.applied(data, null, applyChangeset(db, data, { transaction: 'caller' }));
          applied++;
          if (tracker.groupFull(applied)) break;
        }
        now += ms;
        tracker.endGroup(true);
      })();
      next += applied;
      return applied;
    };
    // before any pace: 4 changesets; 10 ms for them is 2.5 ms each
    expect(group(10)).toBe(4);
    // 10 ms at 2.5 ms fits 4, and a group without a job stops at the first message past its
    // budget: 5 (not 4, which would make the group end short of its budget, and commit more often)
    expect(group(15)).toBe(5);
    // 3 ms each: 3 fit (9 ms), the 4th goes past
    expect(group(8)).toBe(4);
    // 2 ms each: 5 fit exactly, and one more
    expect(group(12)).toBe(6);
    expect(tracker.pastJob).toBe(0);
    expect(tracker.shortOfJob).toBe(0);
    expect(resolver.stats.slots).toBe(19);
    expect(hex(tracker.root())).toBe(hex(stateRootOfDatabase(db)));
    db.close();
  });

  it('checkpoint and rollbackToCheckpoint: a message rolled back leaves the root as it was', () => {
    const dir = tempDir('synddb-sync-tracker-');
    const schema = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)';
    const source = new DatabaseSync(join(dir, 'source.db'));
    source.exec(schema);
    const changesets = ["INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')"].map(
      (sql) => {
        const session = source.createSession();
        source.exec(sql);
        const changeset = session.changeset();
        session.close();
        return changeset;
      },
    );
    source.close();
    const db = openReplica(join(dir, 'replica.db'));
    db.exec(schema);
    const tracker = new StateRootTracker(db, openStateStore(db));
    const empty = hex(tracker.root());
    const apply = (changeset: Uint8Array) =>
      tracker.applied(changeset, null, applyChangeset(db, changeset, { transaction: 'caller' }));
    db.exec('BEGIN');
    tracker.checkpoint();
    apply(changesets[0]!);
    const afterFirst = hex(tracker.root());
    expect(afterFirst).not.toBe(empty);
    // The next message: its savepoint and its checkpoint roll back together.
    db.exec('SAVEPOINT m');
    tracker.checkpoint();
    apply(changesets[1]!);
    expect(hex(tracker.root())).not.toBe(afterFirst);
    db.exec('ROLLBACK TO m');
    tracker.rollbackToCheckpoint();
    expect(hex(tracker.root())).toBe(afterFirst);
    expect(hex(tracker.root())).toBe(hex(stateRootOfDatabase(db)));
    // A checkpoint copies: changes after it do not reach it, and rolling back twice is the same.
    tracker.rollbackToCheckpoint();
    expect(hex(tracker.root())).toBe(afterFirst);
    db.exec('COMMIT');
    db.close();
  });
});
