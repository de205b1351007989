/** `thrown` found no error, or one of another class. */
export class ThrownAssertionError extends Error {
  override name = 'ThrownAssertionError';
}

/**
 * The error `fn` throws, to look at its fields (`thrown(() => decode(bytes), DecodeError).offset`).
 * With `type`, the error must be an instance of it and is returned as one. Fails when `fn` returns.
 * For a promise, use `await promise.catch((e: unknown) => e)` or `expect(...).rejects`.
 */
export function thrown(fn: () => unknown): unknown;
export function thrown<E>(fn: () => unknown, type: abstract new (...args: never[]) => E): E;
export function thrown<E>(fn: () => unknown, type?: abstract new (...args: never[]) => E): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    if (type !== undefined && !(error instanceof type)) {
      throw new ThrownAssertionError(`expected a ${type.name} to be thrown, got ${String(error)}`, {
        cause: error,
      });
    }
    return error;
  }
  throw new ThrownAssertionError(
    `expected ${type === undefined ? 'an error' : `a ${type.name}`} to be thrown, the function returned ${String(result)}`,
  );
}
