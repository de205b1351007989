import type { EventEmitter } from 'node:events';

export interface NextEventOptions {
  /** Default 20,000 ms. */
  timeoutMs?: number;
  /** Aborts the wait (the listener is removed, the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** `nextEvent` gave up: no such event within the time. */
export class EventTimeoutError extends Error {
  override name = 'EventTimeoutError';
}

interface Listenable {
  once(event: string | symbol, listener: (...args: never[]) => void): unknown;
  off(event: string | symbol, listener: (...args: never[]) => void): unknown;
}

/**
 * The arguments of the next `name` event of `emitter`. Subscribe before causing the event:
 * `const halted = nextEvent(engine, 'halted'); ...; const [reason] = await halted;`.
 * Rejects after `timeoutMs` with an error naming the event.
 */
export function nextEvent<Events extends Record<keyof Events, unknown[]>, K extends keyof Events>(
  emitter: EventEmitter<Events>,
  name: K & (string | symbol),
  options?: NextEventOptions,
): Promise<Events[K]>;
export function nextEvent(
  emitter: Listenable,
  name: string | symbol,
  options?: NextEventOptions,
): Promise<unknown[]>;
export function nextEvent(
  emitter: Listenable,
  name: string | symbol,
  options: NextEventOptions = {},
): Promise<unknown[]> {
  const { timeoutMs = 20_000, signal } = options;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      emitter.off(name, listener);
    };
    const listener = (...args: unknown[]) => {
      done();
      resolve(args);
    };
    const onAbort = () => {
      done();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      done();
      reject(new EventTimeoutError(`no '${String(name)}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    emitter.once(name, listener);
  });
}
