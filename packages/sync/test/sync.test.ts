import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createFsFetcher } from '@synddb/fetchers';
import { formatBatchFilename } from '@synddb/protocol';
import { nextEvent, tempDir, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { type AppliedMessage, createSyncEngine, type SyncProgress } from '../src/index';
import {
  devnetWithWorkload,
  dumpReplica,
  dumpSource,
  expectReplicates,
  openReplica,
  publishedHead,
  startDevnet,
  startEngine,
  waitForSequence,
} from './support';

describe('sync engine against the devnet sequencer', () => {
  it('replicates snapshots, changesets and withdrawals row by row', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 150,
      seed: 1,
      snapshotEvery: 60,
    });

    const { engine, db } = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    const applied: AppliedMessage[] = [];
    engine.on('applied', (messages) => applied.push(...messages));
    const snapshots: bigint[] = [];
    engine.on('snapshot', (info) => snapshots.push(info.sequence));
    await waitForSequence(engine, head);
    await waitFor(() => engine.status().state === 'caught_up', {
      timeoutMs: 5000,
      what: 'caught_up',
    });

    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
    const status = engine.status();
    expect(status.lastSequence).toBe(head);
    expect(status.headSequence).toBe(head);
    expect(status.lagSequences).toBe(0n);
    expect(status.halt).toBeNull();
    expect(status.skippedGaps).toEqual([]);
    // every sequence exactly once, in order
    expect(applied.map((m) => m.sequence)).toEqual(
      Array.from({ length: Number(head) + 1 }, (_, i) => BigInt(i)),
    );
    const sentSnapshots = devnet.app.sent
      .filter((m) => m.kind === 'snapshot')
      .map((m) => BigInt(m.sequence));
    expect(snapshots).toEqual(sentSnapshots);
    expect(sentSnapshots.length).toBeGreaterThanOrEqual(3);
    // withdrawals were applied (cursor moved past them) and are reported with their type
    const withdrawals = devnet.app.sent
      .filter((m) => m.kind === 'withdrawal')
      .map((m) => BigInt(m.sequence));
    expect(withdrawals.length).toBeGreaterThan(0);
    expect(applied.filter((m) => m.messageType === 1).map((m) => m.sequence)).toEqual(withdrawals);
    expect(applied.filter((m) => m.messageType === 0).every((m) => m.changesets.length > 0)).toBe(
      true,
    );
  });

  it('follows a live sequencer and two validators agree', async () => {
    const devnet = await startDevnet();
    const a = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    const b = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      prefetchBatches: 1,
      maxMessagesPerTransaction: 1,
    });
    await devnet.app.runWorkload({ transactions: 80, seed: 2, snapshotEvery: 30 });
    const head = publishedHead(devnet);
    await waitForSequence(a.engine, head);
    await waitForSequence(b.engine, head);
    const source = dumpSource(devnet.app.db);
    expect(dumpReplica(a.db)).toEqual(source);
    expect(dumpReplica(b.db)).toEqual(source);
  });

  it('resumes exactly after a restart mid-sync', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 200,
      seed: 3,
      snapshotEvery: 70,
    });
    const path = join(tempDir('synddb-sync-test-'), 'replica.db');

    const first = startEngine(
      { url: devnet.url, pubkey: devnet.pubkey, maxMessagesPerTransaction: 7 },
      path,
    );
    await waitFor(() => (first.engine.status().lastSequence ?? -1n) >= 40n, {
      timeoutMs: 15_000,
      what: 'progress',
    });
    await first.engine.stop();
    const stoppedAt = first.engine.status().lastSequence;
    first.db.close();
    expect(stoppedAt).not.toBeNull();

    const second = startEngine({ url: devnet.url, pubkey: devnet.pubkey }, path);
    const applied: bigint[] = [];
    second.engine.on('applied', (messages) => applied.push(...messages.map((m) => m.sequence)));
    await waitForSequence(second.engine, head);
    expect(applied[0]).toBe((stoppedAt ?? 0n) + 1n);
    expect(second.engine.status().halt).toBeNull();
    expect(dumpReplica(second.db)).toEqual(dumpSource(devnet.app.db));
  });

  it('starts a fresh replica at START_SEQUENCE on a snapshot', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 120,
      seed: 4,
      snapshotEvery: 50,
    });
    const snapshot = devnet.app.sent.filter((m) => m.kind === 'snapshot')[1];
    if (snapshot === undefined) throw new Error('expected a second snapshot');
    const start = BigInt(snapshot.sequence);

    const { engine, db } = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      startSequence: start,
    });
    const applied: bigint[] = [];
    engine.on('applied', (messages) => applied.push(...messages.map((m) => m.sequence)));
    await waitForSequence(engine, head);
    expect(applied[0]).toBe(start);
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });

  it('syncs in single-message mode (BATCH_SYNC_ENABLED=false)', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 40,
      seed: 5,
      snapshotEvery: 25,
    });
    await expectReplicates(devnet, head, { batchSync: false });
  });

  it('syncs from a GCS-layout directory', async () => {
    const bucket = tempDir('synddb-sync-bucket-');
    const { devnet, head } = await devnetWithWorkload(
      { transactions: 60, seed: 6, snapshotEvery: 25 },
      { storage: { gcsDirectory: bucket, prefix: 'seq' } },
    );
    // The mirror writes each batch file before the flush returns: the last one is there already.
    const last = devnet.sequencer.storage.list().at(-1)!;
    expect(
      existsSync(
        join(bucket, 'seq', 'batches', formatBatchFilename(last.startSequence, last.endSequence)),
      ),
    ).toBe(true);
    const { engine, db } = startEngine({
      fetcher: createFsFetcher({ directory: bucket, prefix: 'seq' }),
      pubkey: devnet.pubkey,
    });
    await waitForSequence(engine, head);
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });

  it('reports catch-up progress and commits many messages per transaction when behind', async () => {
    const { devnet, head } = await devnetWithWorkload(
      {
        transactions: 300,
        seed: 8,
        snapshotEvery: 0,
        withdrawals: false,
      },
      { batchMaxMessages: 50 },
    );
    const commits: number[] = [];
    const progress: SyncProgress[] = [];
    const { engine } = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      progressIntervalMs: 0,
    });
    engine.on('messagesCommitted', (info) => commits.push(info.count));
    engine.on('progress', (info) => progress.push(info));
    await waitForSequence(engine, head);
    expect(Math.max(...commits)).toBeGreaterThan(1);
    expect(commits.reduce((a, b) => a + b, 0)).toBe(Number(head) + 1);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.head).toBe(head);
  });

  it('lets other I/O run between commits while catching up', async () => {
    const { devnet, head } = await devnetWithWorkload(
      {
        transactions: 400,
        seed: 10,
        snapshotEvery: 0,
        withdrawals: false,
      },
      { batchMaxMessages: 50 },
    );
    let ticks = 0;
    let commitsBeforeHead = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 1);
    try {
      const { engine } = startEngine({ url: devnet.url, pubkey: devnet.pubkey, maxCommitMs: 1 });
      engine.on('messagesCommitted', () => {
        commitsBeforeHead++;
      });
      const startTicks = ticks;
      await waitForSequence(engine, head);
      // many small commits (the 1 ms budget), and timers kept firing in between
      expect(commitsBeforeHead).toBeGreaterThan(5);
      expect(ticks - startTicks).toBeGreaterThan(3);
    } finally {
      clearInterval(timer);
    }
  });

  it('stop() ends the loop and a stopped engine can be restarted', async () => {
    const devnet = await startDevnet();
    const { engine } = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    await nextEvent(engine, 'caughtUp');
    await engine.stop();
    expect(engine.status().state).toBe('stopped');
    await devnet.app.runWorkload({ transactions: 10, seed: 9 });
    const head = publishedHead(devnet);
    engine.start();
    await waitForSequence(engine, head);
  });

  it('refuses to start without a trusted key', () => {
    const db = openReplica(':memory:');
    try {
      expect(() =>
        createSyncEngine({
          db,
          databasePath: ':memory:',
          fetcher: createFsFetcher({ directory: tempDir('synddb-sync-test-') }),
          sequencerPubkeys: [],
        }),
      ).toThrow(/trusted/);
    } finally {
      db.close();
    }
  });
});
