import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevnetWithApp } from '@synddb/devnet';
import { createHttpFetcher } from '@synddb/fetchers';
import { parseSequencerPubkey } from '@synddb/verifier';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSyncEngine } from './engine';
import type { HaltReason, SyncRetry } from './types';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the engine halts by the error kind', () => {
  it('a cursor that does not continue halts with a state error (CURSOR_CONFLICT), not a changeset conflict', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'synddb-sync-engine-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const devnet = await startDevnetWithApp({
      directory,
      onCleanup: (step: () => unknown) => cleanups.push(step),
    });
    const account = await devnet.app.openAccount('alice', 1_000n);
    await devnet.app.requestWithdrawal(account, `0x${'11'.repeat(20)}`, 5n);
    const withdrawal = devnet.app.sent.find((m) => m.kind === 'withdrawal');
    if (withdrawal === undefined) throw new Error('the app sent no withdrawal');
    const sequence = BigInt(withdrawal.sequence);

    const path = join(directory, 'replica.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    const engine = createSyncEngine({
      db,
      databasePath: path,
      fetcher: createHttpFetcher({ baseUrl: devnet.url, maxRetries: 0, timeoutMs: 5000 }),
      sequencerPubkeys: [parseSequencerPubkey(devnet.sequencer.pubkeyHex)],
      syncIntervalMs: 20,
      gapRetryDelayMs: 20,
      gapRetryCount: 5,
      // A second writer of the cursor (here a handler that records the withdrawal itself): the
      // engine's own record of that sequence no longer continues from the cursor.
      withdrawalHandler: ({ sequence: s, timestamp, state }) => state.recordApplied(s, timestamp),
    });
    const retries: SyncRetry[] = [];
    engine.on('retrying', (retry) => retries.push(retry));
    engine.on('error', () => {});
    engine.start();
    cleanups.push(async () => {
      await engine.stop();
      db.close();
    });

    const [reason] = (await once(engine, 'halted')) as [HaltReason];
    expect(reason).toMatchObject({
      code: 'CURSOR_CONFLICT',
      kind: 'state',
      message: 'Sequence does not continue from the recorded cursor',
      sequence,
      retries: 0,
    });
    // Reported at once (not after gapRetryCount retries like storage), nothing of it applied.
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ code: 'CURSOR_CONFLICT', kind: 'state', halted: true });
    expect(engine.status()).toMatchObject({ state: 'halted', lastSequence: sequence - 1n });
  });
});
