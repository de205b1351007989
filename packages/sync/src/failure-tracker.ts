import { retryAfterOf } from '@synddb/fetchers';
import { classifyError, HALT_RULES, isTransient } from './classify';
import { retryDelay } from './retry-delay';
import type { HaltReason, SyncRetry } from './types';

export interface FailureTrackerSettings {
  gapRetryCount: number;
  retryInitialDelayMs: number;
  gapRetryDelayMs: number;
  maxRetryAfterMs: number;
  random: () => number;
  now: () => number;
}

/**
 * The sync engine's one rule for failed steps, whatever the fetcher (http, gcs, fs, fallback) and
 * whatever failed (listing, download, verification, apply):
 *
 * - every failure is retried after a bounded, jittered, growing delay (`retryDelay`), at least
 *   storage's Retry-After within `maxRetryAfterMs`;
 * - the failure's kind (of the first SyndDBError on its cause chain) decides the rest, by
 *   `HALT_RULES`: storage errors and gaps are reported as a halt only once `gapRetryCount`
 *   retries have failed too, anything else at once;
 * - a reported halt keeps being retried; progress (a commit) ends it, and so does storage
 *   answering with nothing to apply when the halt was a storage error or a gap.
 */
export class FailureTracker {
  readonly #settings: FailureTrackerSettings;
  /** Consecutive failed steps of any kind: drives the backoff. */
  #failures = 0;
  /** Consecutive storage/gap failures: compared with gapRetryCount. */
  #transientFailures = 0;
  #halt: HaltReason | null = null;

  constructor(settings: FailureTrackerSettings) {
    this.#settings = settings;
  }

  get halt(): HaltReason | null {
    return this.#halt;
  }

  /** Which attempt a storage failure or gap seen now would be (1 for the first). */
  get nextTransientAttempt(): number {
    return this.#transientFailures + 1;
  }

  /** Whether a gap seen now has outlasted its retries (then it may be skipped). */
  get gapRetriesSpent(): boolean {
    return this.#transientFailures + 1 > this.#settings.gapRetryCount;
  }

  /**
   * Records a failed step at `sequence`. Returns the retry to announce, and the halt when this
   * failure starts one (to announce as `halted`); a failure that continues the current halt only
   * adds to its `retries`.
   */
  fail(error: unknown, sequence: bigint): { retry: SyncRetry; newHalt: HaltReason | null } {
    const { code, kind, message } = classifyError(error);
    this.#failures++;
    if (isTransient(kind)) this.#transientFailures++;
    const report = !isTransient(kind) || this.#transientFailures > this.#settings.gapRetryCount;
    const newHalt = report ? this.#report({ code, kind, message, sequence }) : null;
    const retryAfterMs = retryAfterOf(error);
    const delayMs = retryDelay({
      failures: this.#failures,
      initialDelayMs: this.#settings.retryInitialDelayMs,
      maxDelayMs: this.#settings.gapRetryDelayMs,
      retryAfterMs,
      maxRetryAfterMs: this.#settings.maxRetryAfterMs,
      random: this.#settings.random,
    });
    return {
      retry: {
        sequence,
        attempt: this.#failures,
        delayMs,
        code,
        kind,
        message,
        retryAfterMs,
        halted: this.#halt !== null,
      },
      newHalt,
    };
  }

  /** Messages were committed: counters restart, and a halt is over (returned, for `resumed`). */
  progressed(): HaltReason | null {
    this.#failures = 0;
    this.#transientFailures = 0;
    const previous = this.#halt;
    this.#halt = null;
    return previous;
  }

  /**
   * Storage answered and has nothing to apply: counters restart, and a storage or gap halt is
   * over (returned); another halt (a conflict, a bad signature) stays until a commit.
   */
  caughtUp(): HaltReason | null {
    this.#failures = 0;
    this.#transientFailures = 0;
    const previous = this.#halt;
    if (previous === null || !HALT_RULES[previous.kind].endsWhenStorageAnswers) return null;
    this.#halt = null;
    return previous;
  }

  /** A gap was skipped (and recorded): it is no failure any more. */
  gapSkipped(): void {
    this.#failures = 0;
    this.#transientFailures = 0;
  }

  /**
   * A failure at the sequence of the current halt continues it (retries + 1, the latest cause
   * shown) when it has the same code, or when both are storage/gap failures (a fallback fetcher
   * alternates between its sources' errors); anything else is a new halt.
   */
  #report(reason: Pick<HaltReason, 'code' | 'kind' | 'message' | 'sequence'>): HaltReason | null {
    const current = this.#halt;
    if (
      current !== null &&
      current.sequence === reason.sequence &&
      (current.code === reason.code || (isTransient(current.kind) && isTransient(reason.kind)))
    ) {
      current.retries++;
      current.code = reason.code;
      current.kind = reason.kind;
      current.message = reason.message;
      return null;
    }
    this.#halt = { ...reason, since: this.#settings.now(), retries: 0 };
    return this.#halt;
  }
}
