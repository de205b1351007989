// Worker thread of the state root's UPDATE resolver (update-resolver.ts): resolves each group's
// UPDATEs on its own read connection while the applying thread applies the group. Results go back
// through the job's shared memory, one slot at a time (update-resolver-wire.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { GroupUpdateResolver, LTHASH_LANES, stateHashOfDatabase } from '@synddb/applier';
import Database from 'better-sqlite3';
import {
  CANCELLED,
  COMMITTED,
  FAILED,
  HEADER_BYTES,
  type ImageHashMessage,
  PROGRESS,
  type ResolverJobMessage,
  SLOT_BYTES,
  SLOTS_DONE,
  STARTED,
  WAITING,
} from './update-resolver-wire';

const port = parentPort;
if (port === null) throw new Error('update-resolver-worker must run in a worker thread');

/**
 * A snapshot (and the overlay of every group walked on it) is kept across groups so the
 * connection's page cache stays warm and rows changed by earlier groups need no read, but for at
 * most this long (a reader holds back the WAL's checkpoints), ...
 */
const MAX_SNAPSHOT_MS = 1000;
/** ... with at most this many rows (and bytes of their versions) in the overlay, ... */
const MAX_OVERLAY_ROWS = 250_000;
const MAX_OVERLAY_BYTES = 64 * 1024 * 1024;
/** ... and released after this long without a job. */
const IDLE_RELEASE_MS = 20;

const { path, stats } = workerData as { path: string; stats: SharedArrayBuffer };
const workerStats = new Float64Array(stats);
const db = new Database(path, { readonly: true, fileMustExist: true });
const resolver = new GroupUpdateResolver(db);
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
// a read, to start the snapshot at once
const pin = db.prepare('SELECT 1 FROM sqlite_schema LIMIT 1');
const scratch = new Uint16Array(LTHASH_LANES);
let epoch = -1;
let snapshotAt = 0;
let idle: NodeJS.Timeout | undefined;
/** The last job: its header and how many of its changesets were walked. */
let previous: { header: Int32Array; walked: number } | null = null;

function release(): void {
  if (db.inTransaction) commit.run();
  resolver.clear();
  previous = null;
}

port.postMessage({ ready: true });

port.on('message', (job: ResolverJobMessage | ImageHashMessage) => {
  if (job.kind === 'image') {
    hashImage(job);
    return;
  }
  clearTimeout(idle);
  const header = new Int32Array(job.shared, 0, HEADER_BYTES / 4);
  try {
    run(job, header);
  } finally {
    idle = setTimeout(release, IDLE_RELEASE_MS);
    const cpu = process.threadCpuUsage();
    workerStats[0] = (cpu.user + cpu.system) / 1000;
  }
});

function run(job: ResolverJobMessage, header: Int32Array): void {
  if (job.epoch !== epoch) {
    release();
    resolver.reset();
    epoch = job.epoch;
  }
  // cancelled before it started (the group ended, or the applying thread gave up waiting)
  if (Atomics.load(header, CANCELLED) !== 0) {
    release();
    return;
  }
  const changesets: Uint8Array[] = [];
  const positions: (Uint32Array | null)[] = [];
  const data = new Uint8Array(job.data);
  const allPositions = new Uint32Array(job.positions);
  for (let c = 0; c < job.bounds.length; c += 4) {
    changesets.push(data.subarray(job.bounds[c]!, job.bounds[c + 1]!));
    const from = job.bounds[c + 2]!;
    const to = job.bounds[c + 3]!;
    positions.push(from === to ? null : allPositions.subarray(from, to));
  }
  const group = { changesets, positions };
  // The overlay continues only when the replica changed since its snapshot by exactly the
  // changesets walked: the applying thread says nothing was applied without a job since the
  // last one, which committed every changeset walked here and nothing else.
  const continues =
    job.continuation &&
    previous !== null &&
    Atomics.load(previous.header, CANCELLED) === 0 &&
    Atomics.load(previous.header, COMMITTED) === previous.walked + 1 &&
    db.inTransaction &&
    performance.now() - snapshotAt < MAX_SNAPSHOT_MS &&
    resolver.overlayRows < MAX_OVERLAY_ROWS &&
    resolver.overlayBytes < MAX_OVERLAY_BYTES &&
    resolver.follows(group);
  workerStats[continues ? 2 : 1]! += 1;
  if (!continues) {
    // The snapshot starts now, before the applying thread can commit this group (it waits for
    // the slots it uses): the replica as of the previous commit.
    release();
    begin.run();
    pin.get();
    snapshotAt = performance.now();
  }
  let walked = 0;
  let stopped = false;
  try {
    resolver.resolve(
      group,
      () => {
        scratch.fill(0);
        return scratch;
      },
      (slot) => {
        new Uint16Array(job.shared, HEADER_BYTES + slot * SLOT_BYTES, LTHASH_LANES).set(scratch);
        Atomics.store(header, SLOTS_DONE, slot + 1);
        Atomics.notify(header, SLOTS_DONE);
        if (Atomics.load(header, CANCELLED) === 0) return true;
        stopped = true;
        return false;
      },
      (c) => {
        walked = c;
        // Paced by the applying thread: changeset c once it starts applying it, so nothing is
        // walked that the group does not apply.
        for (;;) {
          if (Atomics.load(header, CANCELLED) !== 0 || Atomics.load(header, COMMITTED) !== 0) {
            stopped = true;
            return false;
          }
          if (c < Atomics.load(header, STARTED)) return true;
          // announce the wait, then look again: either the applying thread sees WAITING and
          // notifies, or this load sees its store
          Atomics.store(header, WAITING, 1);
          const started = Atomics.load(header, STARTED);
          if (c >= started) Atomics.wait(header, STARTED, started, 1000);
          Atomics.store(header, WAITING, 0);
        }
      },
    );
    if (!stopped) walked = changesets.length;
    previous = { header, walked };
  } catch (error) {
    Atomics.store(header, FAILED, 1);
    Atomics.notify(header, SLOTS_DONE);
    port!.postMessage({ failed: String((error as Error)?.message ?? error) });
    release();
  }
}

function hashImage(job: ImageHashMessage): void {
  const header = new Int32Array(job.shared, 0, HEADER_BYTES / 4);
  try {
    const image = new Database(job.path, { readonly: true, fileMustExist: true });
    try {
      const hash = stateHashOfDatabase(image, {
        progress: () => {
          Atomics.add(header, PROGRESS, 1);
          Atomics.notify(header, SLOTS_DONE);
        },
      });
      new Uint16Array(job.shared, HEADER_BYTES, LTHASH_LANES).set(hash.lanes);
      Atomics.store(header, SLOTS_DONE, 1);
    } finally {
      image.close();
    }
  } catch (error) {
    Atomics.store(header, FAILED, 1);
    port!.postMessage({ failed: String((error as Error)?.message ?? error) });
  }
  Atomics.notify(header, SLOTS_DONE);
}
