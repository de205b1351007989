import { nextEvent } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { startDevnet, startEngine } from '../test/support';
import type { SyncRetry } from './types';

describe('the engine halts by the error kind', () => {
  it('a cursor that does not continue halts with a state error (CURSOR_CONFLICT), not a changeset conflict', async () => {
    const devnet = await startDevnet();
    const account = await devnet.app.openAccount('alice', 1_000n);
    await devnet.app.requestWithdrawal(account, `0x${'11'.repeat(20)}`, 5n);
    const withdrawal = devnet.app.sent.find((m) => m.kind === 'withdrawal');
    if (withdrawal === undefined) throw new Error('the app sent no withdrawal');
    const sequence = BigInt(withdrawal.sequence);

    const { engine } = startEngine({
      url: devnet.url,
      pubkey: devnet.pubkey,
      gapRetryCount: 5,
      // A second writer of the cursor (here a handler that records the withdrawal itself): the
      // engine's own record of that sequence no longer continues from the cursor.
      withdrawalHandler: ({ sequence: s, timestamp, state }) => state.recordApplied(s, timestamp),
    });
    const halted = nextEvent(engine, 'halted');
    const retries: SyncRetry[] = [];
    engine.on('retrying', (retry) => retries.push(retry));

    const [reason] = await halted;
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
