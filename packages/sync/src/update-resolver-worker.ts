// Worker thread of the state root's UPDATE resolver (update-resolver.ts): resolves each group's
// UPDATEs on its own read connection while the applying thread applies the group. Results go back
// through the job's shared memory, one slot at a time (update-resolver-wire.ts).
import { parentPort, workerData } from 'node:worker_threads';
import {
  addStateHashChunk,
  GroupUpdateResolver,
  LTHASH_LANES,
  leaveCpu,
  openStateHashFile,
  type StateHashChunk,
  type StateHashElementBatches,
  type StateHashFile,
  stateHashChunks,
} from '@synddb/applier';
import Database from 'better-sqlite3';
import { checkUpdateResolver } from './update-resolver-self-check';
import {
  CANCELLED,
  COMMITTED,
  FAILED,
  HEADER_BYTES,
  IMAGE_ROW_BYTES_MAX,
  IMAGE_ROWS_MAX,
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

const port = parentPort;
if (port === null) throw new Error('update-resolver-worker must run in a worker thread');

/**
 * The overlay (every row the groups walked since it was cleared changed, as they left it) goes
 * on from group to group while each group committed exactly what was walked: rows changed by
 * earlier groups then need no read. It is cleared after this long, ...
 */
const MAX_OVERLAY_MS_DEFAULT = 60_000;
/** ... past this many rows or bytes of row versions, ... */
const MAX_OVERLAY_ROWS = 250_000;
const MAX_OVERLAY_BYTES = 64 * 1024 * 1024;
/** ... and after this long without a job. */
const IDLE_RELEASE_MS = 1000;

const { path, stats, maxOverlayMs } = workerData as {
  path: string;
  stats: SharedArrayBuffer;
  maxOverlayMs?: number;
};
const MAX_OVERLAY_MS = maxOverlayMs ?? MAX_OVERLAY_MS_DEFAULT;
const workerStats = new Float64Array(stats);
const db = new Database(path, { readonly: true, fileMustExist: true });
const resolver = new GroupUpdateResolver(db);
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
// a read, to start the snapshot at once
const pin = db.prepare('SELECT 1 FROM sqlite_schema LIMIT 1');
const scratch = new Uint16Array(LTHASH_LANES);
let epoch = -1;
let overlayAt = 0;
let idle: NodeJS.Timeout | undefined;
/** The last job: its header and how many of its changesets were walked. */
let previous: { header: Int32Array; walked: number } | null = null;

/**
 * Whether the previous job's group committed exactly the changesets walked here: the same count,
 * or one fewer (the one walked ahead is then taken out of the overlay).
 */
function committedAsWalked(last: { header: Int32Array; walked: number }): boolean {
  if (Atomics.load(last.header, CANCELLED) !== 0) return false;
  const committed = Atomics.load(last.header, COMMITTED) - 1;
  if (committed === last.walked) return true;
  return committed === last.walked - 1 && resolver.undoLast();
}

/** Lets the overlay go (and the last job's memory with it). */
function release(): void {
  resolver.clear();
  imageOverlay = -1;
  forgetPrevious();
}

/**
 * The image whose rows the overlay holds (hashed here or by the applying thread), or -1: the
 * first job after it may go on with them (they are the replica's content once the swap commits).
 */
let imageOverlay = -1;

/** The last job's end has been read (or no longer matters): its memory may be reused. */
function forgetPrevious(): void {
  if (previous !== null) Atomics.store(previous.header, RELEASED, 1);
  previous = null;
}

// Checked (and warmed up) before the first job: a worker that would resolve differently from
// the applying thread is never used.
const unusable = checkUpdateResolver();
port.postMessage(
  unusable === null ? { ready: true, keepsImageRows: resolver.native } : { unusable },
);

port.on('message', (job: ResolverJobMessage | ImageHashMessage) => {
  // Woken by the applying thread, this thread may wake on its CPU (when the other CPUs are busy,
  // say with the prepare workers at a higher niceness) and stay there, both at half speed, until
  // the scheduler balances busy CPUs again (tens of ms): it moves off at once.
  if (leaveCpu(job.cpu)) workerStats[4]! += 1;
  if (job.kind === 'image') {
    clearTimeout(idle);
    hashImage(job);
    // the image's rows are let go too when no job follows
    idle = setTimeout(release, IDLE_RELEASE_MS);
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
  // How the last job ended, read before its memory is handed back for reuse; or the rows of the
  // image swapped in since.
  const fromImage = imageOverlay >= 0 && job.epoch === epoch;
  const previousAsWalked = fromImage || (previous !== null && committedAsWalked(previous));
  imageOverlay = -1;
  forgetPrevious();
  if (job.epoch !== epoch) {
    release();
    resolver.reset();
    epoch = job.epoch;
  }
  // cancelled before it started (the group ended, or the applying thread gave up waiting)
  if (Atomics.load(header, CANCELLED) !== 0) {
    release();
    previous = { header, walked: 0 };
    return;
  }
  const layout = jobLayout(job.slots, job.changesets, job.positions, job.bytes);
  const bounds = new Uint32Array(job.shared, layout.bounds, job.changesets * 4);
  const allPositions = new Uint32Array(job.shared, layout.positions, job.positions);
  const data = new Uint8Array(job.shared, layout.data, job.bytes);
  const changesets: Uint8Array[] = [];
  const positions: (Uint32Array | null)[] = [];
  for (let c = 0; c < bounds.length; c += 4) {
    changesets.push(data.subarray(bounds[c]!, bounds[c + 1]!));
    const from = bounds[c + 2]!;
    const to = bounds[c + 3]!;
    positions.push(from === to ? null : allPositions.subarray(from, to));
  }
  const group = { changesets, positions };
  let walked = 0;
  let stopped = false;
  try {
    // The overlay goes on only when the replica changed since it began by exactly the changesets
    // walked: the applying thread says nothing was applied without a job since the last one,
    // which committed every changeset walked here and nothing else.
    const continues =
      job.continuation &&
      previousAsWalked &&
      performance.now() - overlayAt < MAX_OVERLAY_MS &&
      resolver.overlayRows < MAX_OVERLAY_ROWS &&
      resolver.overlayBytes < MAX_OVERLAY_BYTES &&
      resolver.follows(group);
    workerStats[continues ? 2 : 1]! += 1;
    if (!continues) {
      release();
      overlayAt = performance.now();
    }
    // The read snapshot starts now, after the previous group's commit and before this one's (the
    // applying thread waits for the slots it uses): rows the overlay does not have are read as
    // they were before this group. It ends with the walk, so the writer's checkpoints are never
    // held back for longer than a group (and the WAL can restart).
    begin.run();
    pin.get();
    resolver.resolve(
      group,
      () => {
        scratch.fill(0);
        return scratch;
      },
      (slot) => {
        new Uint16Array(job.shared, layout.lanes + slot * SLOT_BYTES, LTHASH_LANES).set(scratch);
        Atomics.store(header, SLOTS_DONE, slot + 1);
        tell(header);
        if (Atomics.load(header, CANCELLED) === 0) return true;
        stopped = true;
        return false;
      },
      (c) => {
        walked = c;
        // The whole job, at once: the group commits where the job ends. It stops early when the
        // job is cancelled, or when the group committed fewer changesets than the job (ended by
        // a failed message or by time): then the walk is past the commit, and the next job's
        // overlay starts over (or goes on after an undo of the one changeset past it).
        if (Atomics.load(header, CANCELLED) !== 0) {
          stopped = true;
          return false;
        }
        const committed = Atomics.load(header, COMMITTED);
        if (committed === 0 || c < committed - 1) return true;
        stopped = true;
        return false;
      },
    );
    if (!stopped) walked = changesets.length;
    previous = { header, walked };
  } catch (error) {
    Atomics.store(header, FAILED, 1);
    tell(header);
    port!.postMessage({ failed: String((error as Error)?.message ?? error) });
    release();
    previous = { header, walked: 0 };
  } finally {
    if (db.inTransaction) commit.run();
  }
}

function hashImage(job: ImageHashMessage): void {
  const header = new Int32Array(job.shared, 0, HEADER_BYTES / 4);
  const beat = () => {
    Atomics.add(header, PROGRESS, 1);
    tell(header);
  };
  // A new overlay for the swapped-in content: the image's rows, with the next epoch's schema
  // (read once the image is in place).
  release();
  resolver.reset();
  epoch = job.epoch;
  overlayAt = performance.now();
  const rows = resolver.native ? new ImageRowSink() : undefined;
  let image: Database.Database | undefined;
  let file: StateHashFile | undefined;
  let chunks: StateHashChunk[] = [];
  const mine = new Set<number>();
  try {
    image = new Database(job.path, { readonly: true, fileMustExist: true });
    // its rows straight from the file's pages where the native reader takes them
    file = openStateHashFile(job.path);
    chunks = stateHashChunks(image);
    Atomics.store(header, PLAN, chunks.length + 1);
    const lanes = new Uint16Array(job.shared, HEADER_BYTES, LTHASH_LANES);
    for (let i = Atomics.add(header, NEXT_CHUNK, 1); i < chunks.length; ) {
      const chunk = chunks[i]!;
      mine.add(i);
      const keep = rows?.of(chunk);
      addStateHashChunk(image, chunk, lanes, beat, keep, file);
      beat();
      i = Atomics.add(header, NEXT_CHUNK, 1);
    }
    Atomics.store(header, SLOTS_DONE, 1);
  } catch (error) {
    file?.close();
    image?.close();
    release();
    Atomics.store(header, FAILED, 1);
    tell(header);
    port!.postMessage({ failed: String((error as Error)?.message ?? error) });
    return;
  }
  // The applying thread has its answer; the rows of the chunks it hashed come into the overlay
  // here, read again (elements only, no hash), while it goes on.
  tell(header);
  try {
    if (rows !== undefined && rows.failed === undefined) {
      for (let i = 0; i < chunks.length && !rows.full; i++) {
        const keep = mine.has(i) ? undefined : rows.of(chunks[i]!);
        if (keep !== undefined) addStateHashChunk(image, chunks[i]!, null, undefined, keep, file);
      }
    }
    if (rows?.failed !== undefined) throw rows.failed;
    if (rows !== undefined) {
      imageOverlay = job.id;
      workerStats[3] = resolver.overlayRows;
    }
  } catch (error) {
    // an overlay without the image's rows: the jobs read them from the replica
    release();
    port!.postMessage({ failed: String((error as Error)?.message ?? error) });
  } finally {
    file?.close();
    image.close();
  }
}

/**
 * Puts an image's rows into the overlay as the reader hands them over (the native reader's
 * output, no copy), up to `IMAGE_ROWS_MAX` rows and `IMAGE_ROW_BYTES_MAX` bytes: past them the
 * rest is left out (the jobs read those rows from the replica). An error is kept, not thrown:
 * the image's hash goes on, and the overlay is let go once it is done.
 */
class ImageRowSink implements StateHashElementBatches {
  full = false;
  failed: unknown;
  #table = '';
  #primaryKey: Uint8Array = new Uint8Array(0);

  /** The sink for `chunk`'s rows; undefined when none are kept (no primary key, or full). */
  of(chunk: StateHashChunk): this | undefined {
    // tables with a primary key only: changesets have no others
    if (this.full || !chunk.primaryKey.some((p) => p > 0)) return undefined;
    this.#table = chunk.table;
    this.#primaryKey = chunk.primaryKey;
    return this;
  }

  batch(out: Uint8Array, descriptors: Uint32Array, count: number): void {
    if (this.full) return;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += descriptors[2 * i + 1]!;
    if (
      resolver.overlayRows + count > IMAGE_ROWS_MAX ||
      resolver.overlayBytes + bytes > IMAGE_ROW_BYTES_MAX
    ) {
      this.full = true;
      return;
    }
    try {
      resolver.preloadRows(this.#table, this.#primaryKey, out, descriptors, count);
    } catch (error) {
      this.failed = error;
      this.full = true;
    }
  }
}

/** Wakes the applying thread if it waits: bumps the tick it waits on. */
function tell(header: Int32Array): void {
  Atomics.add(header, TO_APPLIER, 1);
  Atomics.notify(header, TO_APPLIER);
}
