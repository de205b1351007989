import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  applyChangeset,
  changesetStateDelta,
  LtHash16,
  stateHashChunks,
  stateRootOfDatabase,
} from '@synddb/applier';
import { createHttpFetcher } from '@synddb/fetchers';
import { onCleanup, tempDir } from '@synddb/test-support';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  createPreparePool,
  createSyncEngine,
  type StateRootHandler,
  type SyncEngineOptions,
  type ValidationRule,
} from '../src/index';
import { UpdateResolver } from '../src/update-resolver';
import {
  type Devnet,
  devnetWithWorkload,
  dumpReplica,
  dumpSource,
  openReplica,
  waitForSequence,
} from './support';

const fetcherOf = (url: string) =>
  createHttpFetcher({ baseUrl: url, maxRetries: 0, timeoutMs: 5000 });

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A replica file in WAL mode in `dir` (what the resolver's worker reads), closed; its path. */
function openedReplica(dir: string): string {
  const path = join(dir, `replica-${Math.random()}.db`);
  openReplica(path).close();
  return path;
}

/** Syncs a fresh replica to `head` with the state root kept; every root on the way, by sequence. */
async function roots(
  devnet: Devnet,
  head: bigint,
  options: Partial<SyncEngineOptions>,
  {
    awaitResolver = true,
    onResolverFailed,
  }: { awaitResolver?: boolean; onResolverFailed?: (message: string) => void } = {},
) {
  const path = join(tempDir('synddb-sync-resolver-'), 'replica.db');
  const db = openReplica(path);
  const seen = new Map<bigint, string>();
  const onStateRoot: StateRootHandler = (c) => {
    seen.set(c.sequence, hex(c.stateRoot()));
  };
  const engine = createSyncEngine({
    db,
    databasePath: path,
    fetcher: fetcherOf(devnet.url),
    sequencerPubkeys: [devnet.pubkey],
    syncIntervalMs: 20,
    // large groups: many messages (and repeated UPDATEs of the same rows) per job
    maxCommitMs: 1000,
    onStateRoot,
    ...options,
  });
  engine.on('error', () => {});
  if (onResolverFailed) engine.on('updateResolverFailed', (e) => onResolverFailed(e.message));
  onCleanup(async () => {
    await engine.stop().catch(() => {});
    if (db.open) db.close();
  });
  if (awaitResolver) await engine.stateRoot?.resolver?.ready();
  engine.start();
  await waitForSequence(engine, head, 60_000);
  expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  expect(hex(engine.stateRoot!.root())).toBe(hex(stateRootOfDatabase(db)));
  return { seen, engine, db };
}

/** Busy-waits `ms` milliseconds. */
function wait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** A rule that takes `ms` of every message (`slowMs` of every `slowEvery`th). */
const paced = (ms: number, slowEvery = 0n, slowMs = ms): ValidationRule => ({
  name: 'paced',
  validate: (_db, { sequence }) => {
    wait(slowEvery > 0n && sequence % slowEvery === 0n ? slowMs : ms);
    return { ok: true };
  },
});

describe('UPDATE resolver (state root UPDATEs on a worker thread)', () => {
  it('gives the roots of the applying thread at every sequence, through schema changes', async () => {
    // deposits, transfers and renames UPDATE some columns of existing rows; the schema changes
    // (new columns, new tables) arrive as snapshots
    const { devnet, head } = await devnetWithWorkload({
      transactions: 300,
      seed: 41,
      schemaChangeEvery: 70,
    });
    const inline = await roots(devnet, head, { updateResolver: false });
    expect(inline.engine.stateRoot?.resolver).toBeUndefined();
    expect(inline.seen.size).toBe(Number(head) + 1);

    // deltas (and the UPDATEs' positions) from a prepare worker
    const pool = createPreparePool({ size: 1, callerDecodeMaxBytes: 0 });
    const pooled = await roots(devnet, head, { preparePool: pool });
    await pool.close();
    // deltas computed on the applying thread when the job is built
    const local = await roots(devnet, head, {});
    // groups of 3 ms with messages of at least 1 ms each (one changeset each): each job holds
    // what the last group's pace fits in one (4 changesets before there is a pace), however fast
    // the machine, and the group ends with its job (never resolved past it on the applying thread)
    const short = await roots(devnet, head, { maxCommitMs: 3, rules: [paced(1)] });
    expect(short.engine.stateRoot!.pastJob).toBe(0);
    expect(short.engine.stateRoot!.resolver!.stats.largestJob).toBeLessThanOrEqual(4);
    for (const run of [pooled, local, short]) {
      const stats = run.engine.stateRoot!.resolver!.stats;
      expect(stats.jobs).toBeGreaterThan(0);
      expect(stats.slots).toBeGreaterThan(50);
      expect(stats.fallbacks).toBe(0);
      // at most one move off the applying thread's CPU per job or image
      expect(Number.isInteger(stats.movedOffApplier)).toBe(true);
      expect(stats.movedOffApplier).toBeLessThanOrEqual(stats.jobs + stats.images);
      expect(run.engine.stateRoot!.resolver!.usable).toBe(true);
      expect(run.engine.stateRoot!.recomputations).toBeGreaterThanOrEqual(4); // the snapshots
      // their images hashed on the worker while they were swapped in
      expect(stats.images).toBeGreaterThanOrEqual(4);
      expect(run.seen).toEqual(inline.seen);
    }
  }, 180_000);

  it('a group that ends before its job (a slow message) costs the overlay, never the roots', async () => {
    const { devnet, head } = await devnetWithWorkload({ transactions: 200, seed: 43 });
    const inline = await roots(devnet, head, { updateResolver: false });
    // every message takes 1 ms more, every 17th 40 ms: a job sized to the pace of 3 ms groups
    // holds it and more, and its group ends at 4 x 3 ms, before the job's end
    const steady = await roots(devnet, head, { maxCommitMs: 3, rules: [paced(1)] });
    const run = await roots(devnet, head, { maxCommitMs: 3, rules: [paced(1, 17n, 40)] });
    const tracker = run.engine.stateRoot!;
    // (a steady run's groups end with their jobs, unless the machine stalls one for 12 ms)
    expect(tracker.shortOfJob).toBeGreaterThan(steady.engine.stateRoot!.shortOfJob);
    expect(tracker.pastJob).toBe(0);
    const stats = tracker.resolver!.stats;
    expect(stats.fallbacks).toBe(0);
    expect(stats.slots).toBeGreaterThan(50);
    // the worker walked past those groups' commits: its next overlay started over
    expect(stats.overlays).toBeGreaterThan(steady.engine.stateRoot!.resolver!.stats.overlays);
    expect(steady.seen).toEqual(inline.seen);
    expect(run.seen).toEqual(inline.seen);
  }, 120_000);

  it('falls back to the applying thread when the worker does not answer, or fails', async () => {
    const { devnet, head } = await devnetWithWorkload({ transactions: 120, seed: 42 });
    const inline = await roots(devnet, head, { updateResolver: false });
    // a worker that never answers: the first wait (the bootstrap snapshot's image hash, or a
    // slot) times out, the worker is dropped
    const failures: string[] = [];
    const stuck = await roots(
      devnet,
      head,
      {
        updateResolver: {
          workerUrl: new URL('./fixtures/resolver-stuck-worker.ts', import.meta.url),
          waitMs: 50,
        },
      },
      { onResolverFailed: (m) => failures.push(m) },
    );
    const stuckResolver = stuck.engine.stateRoot!.resolver!;
    expect(stuckResolver.stats.fallbacks).toBeLessThanOrEqual(1);
    expect(stuckResolver.stats.slots).toBe(0);
    // the bootstrap snapshot's image: the applying thread hashed every chunk, the worker none
    expect(stuckResolver.stats.images).toBe(1);
    expect(stuckResolver.stats.imageChunksHere).toBeGreaterThan(0);
    expect(stuckResolver.usable).toBe(false);
    expect(stuckResolver.lastError).toMatch(/^no answer within 50 ms/);
    expect(stuckResolver.running).toBe(false);
    expect(failures).toEqual([stuckResolver.lastError]); // reported once
    expect(stuck.seen).toEqual(inline.seen);
    // a worker that fails every job: each job falls back, the worker stays in use
    const failing = await roots(devnet, head, {
      updateResolver: {
        workerUrl: new URL('./fixtures/resolver-failing-worker.ts', import.meta.url),
      },
    });
    const failingResolver = failing.engine.stateRoot!.resolver!;
    expect(failingResolver.stats.jobs).toBeGreaterThan(1);
    expect(failingResolver.stats.fallbacks).toBe(failingResolver.stats.jobs);
    expect(failingResolver.usable).toBe(true);
    expect(failing.seen).toEqual(inline.seen);
  }, 120_000);

  it('refuses options that are not non-negative numbers', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      for (const name of ['waitMs', 'maxJobBytes', 'maxOverlayMs'] as const) {
        expect(() => new UpdateResolver({ path: 'replica.db', [name]: bad })).toThrow(
          new RegExp(`${name} must be a non-negative number`),
        );
      }
    }
    expect(new UpdateResolver({ path: 'replica.db', waitMs: 0 }).running).toBe(false);
  });

  it('is not used for an in-memory replica, and a stopped engine ends its worker', async () => {
    const { devnet, head } = await devnetWithWorkload({ transactions: 30, seed: 43 });
    const memory = createSyncEngine({
      db: openReplica(':memory:'),
      databasePath: ':memory:',
      fetcher: fetcherOf(devnet.url),
      sequencerPubkeys: [devnet.pubkey],
      stateRoot: true,
    });
    expect(memory.stateRoot?.resolver).toBeUndefined();
    const run = await roots(devnet, head, {});
    const resolver = run.engine.stateRoot!.resolver!;
    expect(resolver.running).toBe(true);
    await run.engine.stop();
    // stopped: the worker is gone; it starts again when asked (the engine's start asks)
    expect(resolver.running).toBe(false);
    await expect(resolver.ready()).resolves.toBeUndefined();
    expect(resolver.running).toBe(true);
    await run.engine.stop();
    expect(resolver.running).toBe(false);
  }, 60_000);

  it('hashes a snapshot image on both threads, in chunks that sum to its state hash', async () => {
    const dir = tempDir('synddb-sync-resolver-image-');
    const imagePath = join(dir, 'image.db');
    const image = new Database(imagePath);
    image.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w);
      CREATE TABLE k(a TEXT, b, PRIMARY KEY (a, b)) WITHOUT ROWID;`);
    image.transaction(() => {
      const t = image.prepare('INSERT INTO t VALUES (?, ?, ?)');
      for (let i = 0; i < 60_000; i++) t.run(i * 3, `row ${i}`, i % 7 === 0 ? null : i / 4);
      const k = image.prepare('INSERT INTO k VALUES (?, ?)');
      for (let i = 0; i < 500; i++) k.run(`a${i}`, i);
    })();
    const expected = hex(stateRootOfDatabase(image));
    const chunks = stateHashChunks(image).length;
    image.close();
    const digest = (lanes: Uint16Array | null) => hex(new LtHash16(lanes!).digest());

    const resolver = new UpdateResolver({ path: openedReplica(dir) });
    onCleanup(() => resolver.stop());
    await resolver.ready();
    // taken at once: the applying thread hashes what the worker has not taken yet
    expect(resolver.hashImage(imagePath, 1)).toBe(true);
    expect(digest(resolver.takeImage())).toBe(expected);
    expect(resolver.stats.imageChunksHere).toBeGreaterThan(0);
    // taken a little later: both threads hashed some chunks (until a run shows it)
    let shared = 0;
    for (let delayMs = 1; delayMs < 200 && shared === 0; delayMs *= 2) {
      const before = resolver.stats.imageChunksHere;
      expect(resolver.hashImage(imagePath, 1)).toBe(true);
      await new Promise((r) => setTimeout(r, delayMs));
      expect(digest(resolver.takeImage())).toBe(expected);
      const here = resolver.stats.imageChunksHere - before;
      if (here > 0 && here < chunks) shared++;
    }
    expect(shared).toBe(1);
    // taken once the worker is done: every chunk was the worker's
    const here = resolver.stats.imageChunksHere;
    const images = resolver.stats.images;
    expect(resolver.hashImage(imagePath, 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(digest(resolver.takeImage())).toBe(expected);
    expect(resolver.stats.imageChunksHere).toBe(here);
    expect(resolver.stats.images).toBe(images + 1);
    expect(resolver.takeImage()).toBeNull(); // nothing asked
    await resolver.stop();

    // a worker that never takes a chunk: every chunk here, no wait
    const stuck = new UpdateResolver({
      path: openedReplica(dir),
      workerUrl: new URL('./fixtures/resolver-stuck-worker.ts', import.meta.url),
      waitMs: 50,
    });
    onCleanup(() => stuck.stop());
    await stuck.ready();
    expect(stuck.hashImage(imagePath, 1)).toBe(true);
    expect(digest(stuck.takeImage())).toBe(expected);
    expect(stuck.stats.imageChunksHere).toBe(chunks);
    expect(stuck.usable).toBe(true);
  }, 60_000);

  it("keeps a swapped-in image's rows (hashed by either thread) for the first job after the swap", async () => {
    const dir = tempDir('synddb-sync-resolver-image-rows-');
    const imagePath = join(dir, 'image.db');
    const image = new Database(imagePath);
    image.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w)');
    image.transaction(() => {
      const t = image.prepare('INSERT INTO t VALUES (?, ?, ?)');
      for (let i = 0; i < 40_000; i++) t.run(i, `row ${i}`, i % 5);
    })();
    image.close();
    // the replica once the swap committed: the image's content
    const replicaPath = join(dir, 'replica.db');
    copyFileSync(imagePath, replicaPath);
    const replica = openReplica(replicaPath);
    onCleanup(() => replica.close());
    // UPDATEs that leave w out, of rows across every chunk (each chunk hashed by either thread)
    copyFileSync(imagePath, join(dir, 'source.db'));
    const src = new DatabaseSync(join(dir, 'source.db'));
    const session = src.createSession();
    src.exec("UPDATE t SET v = 'updated ' || id WHERE id % 41 = 0");
    const changeset = session.changeset();
    session.close();
    src.close();
    const delta = changesetStateDelta(changeset, { decodeUpdates: false });

    const resolver = new UpdateResolver({ path: replicaPath });
    onCleanup(() => resolver.stop());
    await resolver.ready();
    expect(resolver.hashImage(imagePath, 7)).toBe(true);
    const imageLanes = resolver.takeImage()!;
    const hash = new LtHash16(imageLanes);
    // the job after the swap: the epoch the image was hashed for, the overlay goes on
    const entries = resolver.start([changeset], [delta], 7, true)!;
    expect(entries).toHaveLength(1);
    replica.transaction(() => {
      applyChangeset(replica, changeset, { transaction: 'caller' });
      const lanes = resolver.take(entries[0]!.slot)!;
      hash.addLanes(delta.lanes);
      hash.addLanes(lanes);
      resolver.finish(1);
    })();
    expect(hex(hash.digest())).toBe(hex(stateRootOfDatabase(replica)));
    const { fallbacks, continued, overlays, imageChunksHere } = resolver.stats;
    expect(fallbacks).toBe(0);
    expect(imageChunksHere).toBeGreaterThan(0);
    // it went on with the image's rows, the applying thread's among them: no new overlay. Where
    // the worker's overlay is not the native one (the addon not built yet: CI builds packages
    // while others test), the worker reads the rows instead, as before.
    const keeps = resolver.keepsImageRows;
    expect({ continued, overlays, lastError: resolver.lastError }).toEqual({
      continued: keeps ? 1 : 0,
      overlays: keeps ? 0 : 1,
      lastError: undefined,
    });
    // every row of the image, the chunks the applying thread hashed too (the worker reads them
    // again into its overlay)
    if (keeps) expect(resolver.stats.imageRowsKept).toBe(40_000);
  }, 60_000);
});
