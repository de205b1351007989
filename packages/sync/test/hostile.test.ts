import { rebuildBatchBlob } from '@synddb/devnet';
import { zstdCompress } from '@synddb/protocol';
import { nextEvent, waitFor } from '@synddb/test-support';
import { createSequencerSigner } from '@synddb/verifier';
import { describe, expect, it } from 'vitest';
import type { HaltReason } from '../src/index';
import {
  type Devnet,
  devnetWithWorkload,
  dumpReplica,
  dumpSource,
  publishedHead,
  startDevnet,
  startEngine,
  statusText,
  waitForSequence,
} from './support';

/** A devnet with ~12 published batches and the start/end of a batch in the middle. */
async function devnetWithHistory(): Promise<{
  devnet: Devnet;
  head: bigint;
  middle: { start: bigint; end: bigint };
}> {
  const { devnet, head } = await devnetWithWorkload({
    transactions: 100,
    seed: 11,
    snapshotEvery: 0,
  });
  const batches = devnet.sequencer.storage.list();
  if (batches.length < 4) throw new Error('expected several batches');
  // The batch nearest the middle (never the first or last) with at least two messages: the
  // batcher flushes on size or time, so a loaded machine can publish one-message batches, and the
  // reorder case swaps two messages.
  const half = Math.floor(batches.length / 2);
  const middle = batches
    .slice(1, -1)
    .filter((b) => b.endSequence > b.startSequence)
    .sort((a, b) => Math.abs(batches.indexOf(a) - half) - Math.abs(batches.indexOf(b) - half))[0];
  if (middle === undefined) throw new Error('expected a middle batch of two or more messages');
  return { devnet, head, middle: { start: middle.startSequence, end: middle.endSequence } };
}

/**
 * Runs a validator against storage with one fault in the middle batch: it must stop right before
 * that batch, report `expected` as the halt, apply nothing of it, then resume by itself once storage
 * serves the published batch again and end equal to the source.
 */
async function expectHaltAndRecovery(
  devnet: Devnet,
  head: bigint,
  middle: { start: bigint; end: bigint },
  expected: Partial<HaltReason>,
  options: Parameters<typeof startEngine>[0] | undefined = undefined,
): Promise<HaltReason> {
  const { engine, db } = startEngine(options ?? { url: devnet.url, pubkey: devnet.pubkey });
  const halted = nextEvent(engine, 'halted');
  const [reason] = await halted;
  expect(reason).toMatchObject({ sequence: middle.start, ...expected });
  expect(engine.status().state).toBe('halted');
  expect(engine.status().halt).toMatchObject({ code: reason.code });
  expect(engine.status().lastSequence).toBe(middle.start - 1n);
  // it keeps retrying and does not advance
  await waitFor(() => (engine.status().halt?.retries ?? 0) >= 2, {
    what: () => `two retries while halted (status ${statusText(engine)})`,
  });
  expect(engine.status().lastSequence).toBe(middle.start - 1n);

  const resumed = nextEvent(engine, 'resumed');
  devnet.sequencer.storage.restoreAll();
  const [info] = await resumed;
  expect(info.previous.code).toBe(reason.code);
  await waitForSequence(engine, head);
  expect(engine.status().halt).toBeNull();
  expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  return reason;
}

describe('hostile storage is never applied', () => {
  it('a flipped byte in a batch', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    devnet.sequencer.storage.tamper(middle.start, (blob) => {
      const copy = Uint8Array.from(blob);
      copy[Math.floor(copy.length / 2)]! ^= 0x10;
      return copy;
    });
    const reason = await expectHaltAndRecovery(devnet, head, middle, {});
    expect(['decode', 'verification']).toContain(reason.kind);
  });

  it('a truncated batch', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    devnet.sequencer.storage.tamper(middle.start, (blob) => blob.subarray(0, blob.length - 7));
    const reason = await expectHaltAndRecovery(devnet, head, middle, {});
    expect(['decode', 'verification']).toContain(reason.kind);
  });

  it('a batch re-signed by another key', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    const intruder = createSequencerSigner('11'.repeat(32));
    const original = devnet.sequencer.storage.original(middle.start);
    if (original === undefined) throw new Error('no batch');
    devnet.sequencer.storage.replace(
      middle.start,
      rebuildBatchBlob(original.blob, { signer: intruder }),
    );
    await expectHaltAndRecovery(devnet, head, middle, {
      code: 'UNTRUSTED_SIGNER',
      kind: 'verification',
    });
  });

  it('reordered messages, validly signed by the sequencer key', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    const original = devnet.sequencer.storage.original(middle.start);
    if (original === undefined) throw new Error('no batch');
    const blob = rebuildBatchBlob(original.blob, {
      signer: devnet.sequencer.signer,
      transform: (messages) => [messages[1]!, messages[0]!, ...messages.slice(2)],
      startSequence: middle.start,
      endSequence: middle.end,
    });
    devnet.sequencer.storage.replace(middle.start, blob);
    const reason = await expectHaltAndRecovery(devnet, head, middle, {});
    expect(reason.kind).toBe('decode');
  });

  it('a batch listed with a range its content does not have', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    const original = devnet.sequencer.storage.original(middle.start);
    if (original === undefined) throw new Error('no batch');
    devnet.sequencer.storage.replace(middle.start, original.blob, { endSequence: middle.end - 1n });
    // the index now has a hole at middle.end; the listed batch must still be refused
    const { engine } = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    const [reason] = await nextEvent(engine, 'halted');
    expect(reason.code).toBe('BATCH_LISTING_MISMATCH');
    expect(engine.status().lastSequence).toBe(middle.start - 1n);
    devnet.sequencer.storage.restoreAll();
    await waitForSequence(engine, head);
  });

  it('an oversized batch (decompression cap)', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    devnet.sequencer.storage.replace(middle.start, zstdCompress(new Uint8Array(4 * 1024 * 1024)));
    const reason = await expectHaltAndRecovery(
      devnet,
      head,
      middle,
      {},
      {
        url: devnet.url,
        pubkey: devnet.pubkey,
        maxDecompressedBatchBytes: 1024 * 1024,
      },
    );
    expect(reason.kind).toBe('decode');
  });

  it('a gap halts after the retries and resumes when the batch appears', async () => {
    const { devnet, head, middle } = await devnetWithHistory();
    devnet.sequencer.storage.hide(middle.start);
    const reason = await expectHaltAndRecovery(devnet, head, middle, {
      code: 'SEQUENCE_GAP',
      kind: 'gap',
    });
    expect(reason.message).toContain(`${middle.start}`);
  });

  it('a gap is skipped and recorded only with gapSkipOnFailure', async () => {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 30, seed: 12, snapshotEvery: 0 });
    devnet.sequencer.flush();
    await devnet.app.runWorkload({
      transactions: 5,
      seed: 13,
      snapshotEvery: 0,
      withdrawals: false,
    });
    devnet.sequencer.flush();
    const lost = devnet.sequencer.storage.list().at(-1)!;
    await devnet.app.snapshot();
    const head = publishedHead(devnet);
    devnet.sequencer.storage.hide(lost.startSequence);

    const { engine, db } = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      gapSkipOnFailure: true,
    });
    const [gap] = await nextEvent(engine, 'gapSkipped');
    expect(gap).toMatchObject({ start: lost.startSequence, end: lost.endSequence + 1n });
    await waitForSequence(engine, head);
    const gaps = engine.status().skippedGaps;
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ start: lost.startSequence, end: lost.endSequence + 1n });
    // the snapshot after the gap brought the replica back to the source's content
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });

  it('a conflict halts with the reason and resumes once the replica is repaired', async () => {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 20, seed: 14, snapshotEvery: 0 });
    const first = publishedHead(devnet);
    const { engine, db } = startEngine({ url: devnet.url, pubkey: devnet.pubkey });
    await waitForSequence(engine, first);
    // someone writes behind the validator's back
    const accounts = db
      .prepare('SELECT * FROM accounts')
      .raw(true)
      .safeIntegers(true)
      .all() as unknown[][];
    db.prepare('DELETE FROM accounts').run();

    const halted = nextEvent(engine, 'halted');
    await devnet.app.runWorkload({
      transactions: 20,
      seed: 15,
      snapshotEvery: 0,
      withdrawals: false,
    });
    const head = publishedHead(devnet);
    const [reason] = await halted;
    expect(reason).toMatchObject({
      code: 'CHANGESET_CONFLICT',
      kind: 'conflict',
      sequence: first + 1n,
    });
    expect(reason.message).toMatch(/accounts/);
    expect(engine.status().lastSequence).toBe(first);

    const resumed = nextEvent(engine, 'resumed');
    const placeholders = accounts[0]!.map(() => '?').join(', ');
    const insert = db.prepare(`INSERT INTO accounts VALUES (${placeholders})`);
    db.transaction(() => {
      for (const row of accounts) insert.run(row);
    })();
    await resumed;
    await waitForSequence(engine, head);
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });
});
