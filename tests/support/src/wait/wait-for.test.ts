import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EventTimeoutError, nextEvent } from './next-event';
import { WaitTimeoutError, waitFor } from './wait-for';

describe('waitFor', () => {
  it('resolves with the first value that is not false, null or undefined', async () => {
    let calls = 0;
    const values = [false, null, undefined, 0] as const;
    expect(await waitFor(() => values[calls++])).toBe(0);
    expect(calls).toBe(4);
    expect(await waitFor(async () => 'ready')).toBe('ready');
  });

  it('retries a check that throws', async () => {
    let calls = 0;
    await waitFor(() => {
      calls++;
      expect(calls).toBe(3);
      return true;
    });
    expect(calls).toBe(3);
  });

  it('says what it waited for, how long, and what the last check did', async () => {
    const error = await waitFor(() => false, { what: 'the replica', timeoutMs: 30 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toBe(
      'timed out after 30 ms waiting for the replica (the last check returned false)',
    );
    let state = 'starting';
    const thrown = await waitFor(
      () => {
        state = 'still starting';
        throw new Error('ECONNREFUSED');
      },
      { what: () => `the server (${state})`, timeoutMs: 30 },
    ).catch((e: unknown) => e as Error);
    expect(thrown.message).toBe(
      'timed out after 30 ms waiting for the server (still starting) (the last check threw: ECONNREFUSED)',
    );
    expect((thrown.cause as Error).message).toBe('ECONNREFUSED');
  });
});

describe('nextEvent', () => {
  interface Events {
    halted: [reason: { code: string }];
    resumed: [sequence: bigint, retries: number];
  }

  it('resolves with the arguments of the next event and stops listening', async () => {
    const emitter = new EventEmitter<Events>();
    const resumed = nextEvent(emitter, 'resumed');
    emitter.emit('resumed', 5n, 2);
    emitter.emit('resumed', 6n, 0);
    const [sequence, retries] = await resumed;
    expect([sequence, retries]).toEqual([5n, 2]);
    expect(emitter.listenerCount('resumed')).toBe(0);
  });

  it('rejects after the timeout, naming the event, and on abort', async () => {
    const emitter = new EventEmitter<Events>();
    const error = await nextEvent(emitter, 'halted', { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventTimeoutError);
    expect((error as Error).message).toBe("no 'halted' event within 20 ms");
    const reason = new Error('stop');
    await expect(nextEvent(emitter, 'halted', { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(emitter.listenerCount('halted')).toBe(0);
  });
});
