import { afterAll, afterEach, beforeEach } from 'vitest';

/** A teardown step: stop a server, close a database, remove a directory. */
export type Cleanup = () => unknown;

export interface OnCleanupOptions {
  /**
   * When it runs. Default: after the current test when registered inside one (the test body or a
   * `beforeEach`), else after the file (registered in `beforeAll` or at module level).
   */
  scope?: 'test' | 'file';
}

// One registry per test file: vitest evaluates this module again for every file it runs, and the
// hooks below attach to the file that first imports it.
const afterTest: Cleanup[] = [];
const afterFile: Cleanup[] = [];
let inTest = false;

// Registered at import, so before the file's own hooks: `beforeEach` here runs first and the
// `afterEach`/`afterAll` here run last (vitest runs after-hooks in reverse order), after the
// file's own teardown hooks have used what these cleanups remove.
beforeEach(() => {
  inTest = true;
});
afterEach(async () => {
  inTest = false;
  await drain(afterTest);
});
afterAll(async () => {
  await drain(afterTest);
  await drain(afterFile);
});

/**
 * Registers `cleanup` to run after the current test (or after the file, see `scope`). Cleanups
 * run last-registered first, each awaited, every one even when another fails; the first failure
 * is thrown afterwards (an `AggregateError` when several fail).
 */
export function onCleanup(cleanup: Cleanup, options: OnCleanupOptions = {}): void {
  const scope = options.scope ?? (inTest ? 'test' : 'file');
  (scope === 'test' ? afterTest : afterFile).push(cleanup);
}

async function drain(stack: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  // A cleanup may register more (e.g. a server that closes its clients): they run too.
  for (let cleanup = stack.pop(); cleanup !== undefined; cleanup = stack.pop()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}
