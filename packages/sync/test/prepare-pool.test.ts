import { rebuildBatchBlob } from '@synddb/devnet';
import { MessageType, zstdCompress } from '@synddb/protocol';
import { nextEvent, onCleanup } from '@synddb/test-support';
import { createSequencerSigner } from '@synddb/verifier';
import { describe, expect, it } from 'vitest';
import { createPreparePool, prepareBlob, RemoteError } from '../src/index';
import {
  devnetWithWorkload,
  dumpReplica,
  dumpSource,
  expectReplicates,
  publishedHead,
  startDevnet,
  startEngine,
  waitForSequence,
} from './support';

const pool = createPreparePool({ size: 2 });
onCleanup(() => pool.close()); // after the file: every test shares the pool
// One worker, small payloads decoded on this thread (the default with one worker), every payload
// decoded on this thread, and every payload on the worker.
const onCaller = createPreparePool({ size: 1 });
const allOnCaller = createPreparePool({ size: 1, callerDecodeMaxBytes: 1 << 30 });
const onWorker = createPreparePool({ size: 1, callerDecodeMaxBytes: 0 });
onCleanup(() => onCaller.close());
onCleanup(() => allOnCaller.close());
onCleanup(() => onWorker.close());

describe('prepare workers', () => {
  it('replicate the devnet through worker threads, row by row', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 120,
      seed: 31,
      snapshotEvery: 50,
    });
    const { engine } = await expectReplicates(devnet, head, { preparePool: pool });
    expect(engine.status().halt).toBeNull();
  });

  it('produce exactly what prepareBlob produces in-thread, payloads decoded on either side', async () => {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 40, seed: 32, snapshotEvery: 10 });
    publishedHead(devnet);
    for (const batch of devnet.sequencer.storage.list()) {
      const info = { startSequence: batch.startSequence, endSequence: batch.endSequence, path: '' };
      const options = { trustedKeys: [devnet.pubkey], maxDecompressedBatchBytes: 1 << 26 };
      const local = prepareBlob(info, batch.blob, options);
      for (const p of [pool, onCaller, allOnCaller, onWorker]) {
        expect(await p.prepare(info, batch.blob, options)).toEqual(local);
      }
    }
  });

  it('halt at a validly signed message whose payload does not decode, the messages before it applied, payloads decoded on either side', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 60,
      seed: 34,
      snapshotEvery: 0,
    });
    const batches = devnet.sequencer.storage.list();
    const middle = batches.find(
      (b, i) => i > 0 && b.endSequence > b.startSequence && i < batches.length - 1,
    );
    if (middle === undefined) throw new Error('no batch of two messages or more');
    // The second message's payload: valid zstd of bytes that are not a changeset request.
    const bad = rebuildBatchBlob(middle.blob, {
      signer: devnet.sequencer.signer,
      transform: (messages) =>
        messages.map((m, i) =>
          i === 1
            ? {
                ...m,
                messageType: MessageType.Changeset,
                payload: zstdCompress(Uint8Array.of(0xa1, 0x61, 0x78, 0x01)),
              }
            : m,
        ),
    });
    const info = { startSequence: middle.startSequence, endSequence: middle.endSequence, path: '' };
    const options = { trustedKeys: [devnet.pubkey], maxDecompressedBatchBytes: 1 << 26 };
    const local = prepareBlob(info, bad, options);
    expect(local[1]).toMatchObject({ type: 'invalid', sequence: middle.startSequence + 1n });
    const code = (local[1] as { error: { code: string } }).error.code;
    for (const p of [onCaller, allOnCaller, onWorker]) {
      const prepared = await p.prepare(info, bad, options);
      expect(prepared.map((m) => m.type)).toEqual(local.map((m) => m.type));
      expect(prepared[1]).toMatchObject({ type: 'invalid', error: { code } });
    }

    devnet.sequencer.storage.replace(middle.startSequence, bad);
    for (const p of [onCaller, onWorker]) {
      const { engine, db } = startEngine({
        url: devnet.url,
        pubkey: devnet.pubkey,
        preparePool: p,
      });
      const [reason] = await nextEvent(engine, 'halted');
      expect(reason).toMatchObject({ sequence: middle.startSequence + 1n, kind: 'decode', code });
      expect(engine.status().lastSequence).toBe(middle.startSequence);
      const resumed = nextEvent(engine, 'resumed');
      devnet.sequencer.storage.restoreAll();
      await resumed;
      await waitForSequence(engine, head);
      expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
      await engine.stop();
      devnet.sequencer.storage.replace(middle.startSequence, bad);
    }
  });

  it('reject with the same error code as in-thread, and the engine halts and recovers', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 60,
      seed: 33,
      snapshotEvery: 0,
    });
    const batches = devnet.sequencer.storage.list();
    const middle = batches[Math.floor(batches.length / 2)]!;
    const forged = rebuildBatchBlob(middle.blob, {
      signer: createSequencerSigner('11'.repeat(32)),
    });
    const info = { startSequence: middle.startSequence, endSequence: middle.endSequence, path: '' };
    const options = { trustedKeys: [devnet.pubkey], maxDecompressedBatchBytes: 1 << 26 };
    const error = await pool.prepare(info, forged, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).code).toBe('UNTRUSTED_SIGNER');
    expect((error as RemoteError).name).toBe('UntrustedSignerError');
    expect(() => prepareBlob(info, forged, options)).toThrow(
      expect.objectContaining({ code: 'UNTRUSTED_SIGNER' }),
    );

    const corrupt = Uint8Array.from(middle.blob);
    corrupt[corrupt.length >> 1]! ^= 1;
    devnet.sequencer.storage.replace(middle.startSequence, corrupt);
    const { engine, db } = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      preparePool: pool,
    });
    const [reason] = await nextEvent(engine, 'halted');
    expect(reason.sequence).toBe(middle.startSequence);
    expect(['decode', 'verification']).toContain(reason.kind);
    expect(engine.status().lastSequence).toBe(middle.startSequence - 1n);
    const resumed = nextEvent(engine, 'resumed');
    devnet.sequencer.storage.restoreAll();
    await resumed;
    await waitForSequence(engine, head);
    expect(dumpReplica(db)).toEqual(dumpSource(devnet.app.db));
  });

  it('rejects calls after close', async () => {
    const closed = createPreparePool({ size: 1 });
    await closed.close();
    await expect(
      closed.prepare({ startSequence: 0n, endSequence: 0n, path: '' }, new Uint8Array(1), {
        trustedKeys: [],
        maxDecompressedBatchBytes: 1,
      }),
    ).rejects.toMatchObject({ code: 'PREPARE_POOL' });
  });
});

/** Runs `script` (ESM, with `createPreparePool` in scope) in a fresh Node process. */
async function runWithPool(script: string[]) {
  const { spawnSync } = await import('node:child_process');
  const index = new URL('../src/index.ts', import.meta.url).href;
  const source = [
    `const { createPreparePool } = await import(${JSON.stringify(index)});`,
    ...script,
  ].join('\n');
  return spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', source],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

describe('the applying thread helps (prepareWaitingHere)', () => {
  /** Every batch of a devnet workload, as `prepare()` takes them. */
  async function workloadBatches(seed: number) {
    const devnet = await startDevnet();
    await devnet.app.runWorkload({ transactions: 80, seed, snapshotEvery: 30 });
    publishedHead(devnet);
    const options = { trustedKeys: [devnet.pubkey], maxDecompressedBatchBytes: 1 << 26 };
    const batches = devnet.sequencer.storage.list().map((b) => ({
      info: { startSequence: b.startSequence, endSequence: b.endSequence, path: '' },
      blob: b.blob,
    }));
    return { devnet, options, batches };
  }

  it('takes batches no worker has started, newest first, with the results of a worker', async () => {
    const { options, batches } = await workloadBatches(41);
    expect(batches.length).toBeGreaterThan(5);
    const helped = createPreparePool({ size: 1 });
    onCleanup(() => helped.close());
    await helped.ready();
    for (const stateDeltas of [false, true]) {
      const o = { ...options, stateDeltas };
      const before = helped.stats();
      const settled: number[] = [];
      const results = batches.map((b, i) =>
        helped.prepare(b.info, b.blob, o).then((m) => {
          settled.push(i);
          return m;
        }),
      );
      // The worker has started one batch at most by now: this thread takes the newest first.
      let taken = 0;
      while (helped.prepareWaitingHere()) taken++;
      expect(taken).toBeGreaterThan(0);
      await Promise.resolve();
      await Promise.resolve();
      expect(settled[0]).toBe(batches.length - 1);
      const prepared = await Promise.all(results);
      // The same messages as the worker alone (and in-thread) produce.
      for (let i = 0; i < batches.length; i++) {
        const { info, blob } = batches[i]!;
        expect(prepared[i]).toEqual(await onCaller.prepare(info, blob, o));
        if (!stateDeltas) expect(prepared[i]).toEqual(prepareBlob(info, blob, o));
      }
      const after = helped.stats();
      expect(after.preparedHere - before.preparedHere).toBe(taken);
      // Each batch prepared once: the worker skipped the ones taken here.
      expect(
        after.preparedHere +
          after.preparedByWorkers -
          before.preparedHere -
          before.preparedByWorkers,
      ).toBe(batches.length);
      expect(helped.prepareWaitingHere()).toBe(false);
    }
  });

  it('rejects a batch it takes with the in-thread error', async () => {
    const { devnet, options, batches } = await workloadBatches(42);
    const helped = createPreparePool({ size: 1 });
    onCleanup(() => helped.close());
    await helped.ready();
    const last = batches.at(-1)!;
    const forged = rebuildBatchBlob(last.blob, { signer: createSequencerSigner('11'.repeat(32)) });
    const good = batches.slice(0, -1).map((b) => helped.prepare(b.info, b.blob, options));
    const bad = helped.prepare(last.info, forged, options).catch((e: unknown) => e);
    expect(helped.prepareWaitingHere()).toBe(true); // the newest: the forged one
    const error = await bad;
    expect(error).not.toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: 'UNTRUSTED_SIGNER', name: 'UntrustedSignerError' });
    await Promise.all(good);
    expect(devnet.pubkey).toBeDefined();
  });

  it('leaves batches to the workers when told to, or when they are large', async () => {
    const { options, batches } = await workloadBatches(43);
    const off = createPreparePool({ size: 1, callerHelps: false });
    const small = createPreparePool({ size: 1, callerHelpMaxMessages: 1 });
    onCleanup(() => off.close());
    onCleanup(() => small.close());
    expect(() => createPreparePool({ callerHelpMaxMessages: -1 })).toThrow(/callerHelpMaxMessages/);
    const multi = batches.filter((b) => b.info.endSequence > b.info.startSequence);
    expect(multi.length).toBeGreaterThan(0);
    const pending = [
      ...batches.map((b) => off.prepare(b.info, b.blob, options)),
      ...multi.map((b) => small.prepare(b.info, b.blob, options)),
    ];
    expect(off.prepareWaitingHere()).toBe(false);
    expect(small.prepareWaitingHere()).toBe(false); // every batch it holds has 2+ messages
    await Promise.all(pending);
    expect(off.stats()).toEqual({ preparedByWorkers: batches.length, preparedHere: 0 });
    expect(small.stats()).toEqual({ preparedByWorkers: multi.length, preparedHere: 0 });
  });

  it('replicates the devnet while a slow worker leaves the applying thread waiting', async () => {
    const { devnet, head } = await devnetWithWorkload({
      transactions: 150,
      seed: 44,
      snapshotEvery: 60,
    });
    const slow = createPreparePool({
      size: 1,
      workerUrl: new URL('./fixtures/slow-prepare-worker.ts', import.meta.url),
    });
    onCleanup(() => slow.close());
    await slow.ready();
    const { engine } = await expectReplicates(devnet, head, { preparePool: slow });
    expect(engine.status().halt).toBeNull();
    const { preparedHere, preparedByWorkers } = slow.stats();
    expect(preparedHere).toBeGreaterThan(0);
    expect(preparedByWorkers).toBeGreaterThan(0);
  });
});

describe('prepare pool lifecycle', () => {
  it('keeps the process alive until its workers are ready (a process awaiting ready() does not exit early)', async () => {
    const run = await runWithPool([
      'const pool = createPreparePool({ size: 2 });',
      'await pool.ready();',
      "process.stdout.write('ready\\n');",
      'await pool.close();',
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('ready\n');
    expect(run.status).toBe(0);
  });

  it('rejects ready() and prepare() when a worker cannot start', async () => {
    const broken = createPreparePool({
      size: 1,
      workerUrl: new URL('./no-such-worker.js', import.meta.url),
    });
    try {
      await expect(broken.ready()).rejects.toThrow(/prepare worker/);
      const info = { startSequence: 0n, endSequence: 0n, path: '' };
      await expect(
        broken.prepare(info, new Uint8Array(8), {
          trustedKeys: [],
          maxDecompressedBatchBytes: 1024,
        }),
      ).rejects.toThrow(/prepare worker/);
    } finally {
      await broken.close();
    }
  });

  it('lets an idle process exit once ready (idle workers do not hold the event loop)', async () => {
    const run = await runWithPool([
      'const pool = createPreparePool({ size: 1 });',
      'await pool.ready();',
      "process.stdout.write('idle\\n');",
    ]);
    expect(run.stdout).toBe('idle\n');
    expect(run.status).toBe(0);
  });
});
