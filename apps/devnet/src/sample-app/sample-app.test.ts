import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  decodeBatchBlob,
  decodeChangesetBatchRequest,
  decodeSnapshotRequest,
  decodeWithdrawalRequest,
  hexToBytes,
  MessageType,
  zstdDecompress,
} from '@synddb/protocol';
import { onCleanup, tempDir } from '@synddb/test-support';
import { verifyBatch } from '@synddb/verifier';
import { describe, expect, it } from 'vitest';
import { digestDatabase } from '../db-digest';
import type { DevnetSequencer } from '../sequencer/create-devnet-sequencer';
import { ANVIL0_PUBKEY, startSequencer } from '../test-support';
import { createSampleApp, type SampleApp } from './create-sample-app';

const PUBKEY = hexToBytes(ANVIL0_PUBKEY)!;

function sampleApp(
  url: string,
  dbPath: string,
  options: { changesetsPerRequest?: number } = {},
): SampleApp {
  const app = createSampleApp({
    sequencerUrl: url,
    dbPath,
    idSeed: 7,
    clock: () => 1_700_000_000_000,
    ...options,
  });
  onCleanup(() => app.close());
  return app;
}

/**
 * A minimal replica: verify every published batch, restore snapshots, apply changesets with
 * node:sqlite's own applier (abort on any conflict). Returns the replica path and what it saw.
 */
function replicate(seq: DevnetSequencer, dir: string) {
  const path = join(dir, 'replica.db');
  let db: DatabaseSync | undefined;
  const seen: { sequence: bigint; type: MessageType }[] = [];
  for (const stored of seq.storage.list()) {
    const batch = verifyBatch(decodeBatchBlob(stored.blob), { expectedPubkey: PUBKEY });
    for (const message of batch.messages) {
      seen.push({ sequence: message.sequence, type: message.messageType });
      const payload = zstdDecompress(message.payload);
      if (message.messageType === MessageType.Snapshot) {
        db?.close();
        writeFileSync(path, decodeSnapshotRequest(payload).snapshot.data);
        db = new DatabaseSync(path);
      } else if (message.messageType === MessageType.Changeset) {
        if (db === undefined) throw new Error('changeset before the first snapshot');
        const request = decodeChangesetBatchRequest(payload);
        db.exec('BEGIN');
        for (const c of request.changesets) {
          if (!db.applyChangeset(c.data))
            throw new Error(`changeset at ${message.sequence} aborted`);
        }
        db.exec('COMMIT');
      } else {
        decodeWithdrawalRequest(payload);
      }
    }
  }
  db?.close();
  return { path, seen };
}

describe('sample app', () => {
  it('sends a snapshot first, then real changesets the replica can apply row for row', async () => {
    const seq = await startSequencer({ batchMaxMessages: 10, flushIntervalMs: 60_000 });
    const dir = tempDir('synddb-devnet-app-');
    const app = sampleApp(seq.url, join(dir, 'app.db'));
    const first = await app.start();
    expect(first.sequence).toBe(0);
    const alice = await app.openAccount('Alice', 1000n);
    const bob = await app.openAccount('Bob', 500n);
    await app.transfer(alice, bob, 100n, 'rent');
    await app.setLabel(alice, 'tier', 'gold');
    await app.rename(bob, 'bobby');
    // A transaction that changes nothing yields an empty changeset, which is not sent.
    await app.rename(bob, 'bobby');
    seq.flush();

    expect(app.sent.map((s) => [s.kind, s.sequence])).toEqual([
      ['snapshot', 0],
      ['changesets', 1],
      ['changesets', 2],
      ['changesets', 3],
      ['changesets', 4],
      ['changesets', 5],
    ]);
    const snapshotPayload = decodeSnapshotRequest(
      zstdDecompress(decodeBatchBlob(seq.storage.get(0n)!.blob).parsedMessages[0]!.payload),
    );
    expect(Buffer.from(snapshotPayload.snapshot.data.subarray(0, 16)).toString('latin1')).toBe(
      'SQLite format 3\0',
    );

    const { path, seen } = replicate(seq, dir);
    expect(seen.map((s) => s.type)).toEqual([
      MessageType.Snapshot,
      ...Array.from({ length: 5 }, () => MessageType.Changeset),
    ]);
    expect(digestDatabase(path)).toEqual(digestDatabase(app.db));
    const replica = new DatabaseSync(path, { readOnly: true });
    expect(replica.prepare('SELECT owner, balance FROM accounts ORDER BY id').all()).toEqual([
      { owner: 'Alice', balance: 900 },
      { owner: 'Bob', balance: 600 },
    ]);
    replica.close();
  });

  it('runs a deterministic workload that replicates exactly, with snapshots and withdrawals', async () => {
    const seq = await startSequencer({ batchMaxMessages: 16, flushIntervalMs: 60_000 });
    const dir = tempDir('synddb-devnet-app-');
    const app = sampleApp(seq.url, join(dir, 'app.db'), { changesetsPerRequest: 3 });
    await app.start();
    const summary = await app.runWorkload({ transactions: 150, seed: 42, snapshotEvery: 60 });
    seq.flush();
    expect(summary.transactions).toBe(150);
    expect(summary.snapshots).toBe(2);
    expect(summary.operations.withdrawal).toBeGreaterThan(0);
    expect(summary.operations.closeAccount + summary.operations.removeLabel).toBeGreaterThan(0);

    // Sent order == sequence order, and the sequencer holds exactly what was sent.
    const sequences = app.sent.map((s) => s.sequence);
    expect(sequences).toEqual(sequences.toSorted((a, b) => a - b));
    expect(Number(seq.sequencer.nextSequence)).toBe(app.sent.length);
    const requests = app.sent.filter((s) => s.kind === 'changesets');
    expect(requests.some((r) => r.kind === 'changesets' && r.clientSequences.length === 3)).toBe(
      true,
    );

    const { path, seen } = replicate(seq, dir);
    expect(seen.map((s) => Number(s.sequence))).toEqual(sequences);
    expect(digestDatabase(path)).toEqual(digestDatabase(app.db));

    // Same seed, fresh database -> the same data.
    const seq2 = await startSequencer({ flushIntervalMs: 60_000 });
    const again = sampleApp(seq2.url, join(dir, 'again.db'), { changesetsPerRequest: 3 });
    await again.start();
    expect(await again.runWorkload({ transactions: 150, seed: 42, snapshotEvery: 60 })).toEqual(
      summary,
    );
    expect(digestDatabase(again.db).digest).toBe(digestDatabase(app.db).digest);
  });

  it('changes the schema during a workload (ADD COLUMN, CREATE TABLE) and still replicates exactly', async () => {
    const seq = await startSequencer({ batchMaxMessages: 16, flushIntervalMs: 60_000 });
    const dir = tempDir('synddb-devnet-app-');
    const app = sampleApp(seq.url, join(dir, 'app.db'));
    await app.start();
    const summary = await app.runWorkload({
      transactions: 90,
      seed: 7,
      snapshotEvery: 0,
      schemaChangeEvery: 20,
    });
    seq.flush();
    expect(summary.schemaChanges).toBe(4);
    expect(app.sent.filter((s) => s.kind === 'snapshot')).toHaveLength(1 + 4);
    const { path } = replicate(seq, dir);
    const digest = digestDatabase(path);
    expect(digest).toEqual(digestDatabase(app.db));
    const accounts = digest.tables.find((t) => t.name === 'accounts');
    expect(accounts?.columns).toEqual(expect.arrayContaining(['attr_0', 'attr_2']));
    expect(digest.tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['audit_1', 'audit_3']),
    );
    // rows written after a change carry the new column's default
    const replica = new DatabaseSync(path, { readOnly: true });
    expect(replica.prepare("SELECT count(*) AS n FROM accounts WHERE attr_0 = 'v0'").get()).toEqual(
      {
        n: app.accounts().length,
      },
    );
    replica.close();
  });

  it('sends a snapshot after DDL and keeps changesets on the new schema replicable', async () => {
    const seq = await startSequencer({ flushIntervalMs: 60_000 });
    const dir = tempDir('synddb-devnet-app-');
    const app = sampleApp(seq.url, join(dir, 'app.db'));
    await app.start();
    const a = await app.openAccount('A', 10n);
    await app.executeDdl('ALTER TABLE accounts ADD COLUMN email TEXT');
    app.db.exec('SELECT 1');
    await app.rename(a, 'renamed');
    seq.flush();
    expect(app.sent.map((s) => s.kind)).toEqual([
      'snapshot',
      'changesets',
      'snapshot',
      'changesets',
    ]);
    const { path } = replicate(seq, dir);
    expect(digestDatabase(path)).toEqual(digestDatabase(app.db));
    expect(digestDatabase(path).tables.find((t) => t.name === 'accounts')?.columns).toContain(
      'email',
    );
  });

  it('rejects invalid business operations without sending anything', async () => {
    const seq = await startSequencer({ flushIntervalMs: 60_000 });
    const app = sampleApp(seq.url, join(tempDir('synddb-devnet-app-'), 'app.db'));
    await app.start();
    const a = await app.openAccount('A', 10n);
    const b = await app.openAccount('B', 0n);
    await expect(app.transfer(a, b, 11n)).rejects.toMatchObject({ code: 'DEVNET_SAMPLE_APP' });
    await expect(app.transfer(a, 999, 1n)).rejects.toMatchObject({ code: 'DEVNET_SAMPLE_APP' });
    await expect(app.deposit(a, 0n)).rejects.toMatchObject({ code: 'DEVNET_SAMPLE_APP' });
    expect(app.sent.length).toBe(3);
    expect(app.accounts().map((r) => r.balance)).toEqual([10n, 0n]);
  });

  it('reports a sequencer refusal as a typed error and retries the queued changesets', async () => {
    const seq = await startSequencer({ flushIntervalMs: 60_000, maxBodyBytes: 64 * 1024 });
    const app = sampleApp(seq.url, join(tempDir('synddb-devnet-app-'), 'app.db'));
    await app.start();
    const a = await app.openAccount('A', 10n);
    await expect(app.setLabel(a, 'note', 'x'.repeat(100_000))).rejects.toMatchObject({
      code: 'DEVNET_SEQUENCER_RESPONSE',
      status: 400,
    });
    expect(app.sent.length).toBe(2);
  });
});
