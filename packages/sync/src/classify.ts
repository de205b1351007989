import { isSyndDBError, walkErrorChain } from '@synddb/protocol';
import type { HaltKind } from './types';

/** What the engine does with a failed step of one kind (README: failures and retries). */
export interface HaltRule {
  /**
   * Retried `gapRetryCount` times before the halt is reported; otherwise reported at once. Either
   * way the step keeps being retried after the backoff.
   */
  retriedBeforeHalt: boolean;
  /**
   * The halt also ends when storage answers with nothing to apply (a caught-up validator whose
   * storage came back); every halt ends when messages commit.
   */
  endsWhenStorageAnswers: boolean;
  /** Counted as a signature failure (`signatureFailure` event). */
  signatureFailure: boolean;
}

const AT_ONCE: HaltRule = {
  retriedBeforeHalt: false,
  endsWhenStorageAnswers: false,
  signatureFailure: false,
};
const TRANSIENT: HaltRule = {
  retriedBeforeHalt: true,
  endsWhenStorageAnswers: true,
  signatureFailure: false,
};

/**
 * The engine's rule for every error kind: storage faults and gaps may be transient and are
 * retried before they are reported; everything else is reported at once. This table, not the
 * error codes, decides.
 */
export const HALT_RULES: Readonly<Record<HaltKind, HaltRule>> = {
  storage: TRANSIENT,
  gap: TRANSIENT,
  verification: { ...AT_ONCE, signatureFailure: true },
  decode: AT_ONCE,
  conflict: AT_ONCE,
  schema: AT_ONCE,
  // Retried like the rest: a rule that passes on a later attempt (or a changed rule set after a
  // restart) lets the message commit, which ends the halt.
  rule: AT_ONCE,
  state: AT_ONCE,
  config: AT_ONCE,
  input: AT_ONCE,
  unavailable: AT_ONCE,
  aborted: AT_ONCE,
  internal: AT_ONCE,
};

/**
 * The halt reason of a failed step: `code`, `kind` and short message of the first SyndDBError on
 * its cause chain (the error itself first); `INTERNAL` / `internal` when there is none.
 */
export function classifyError(error: unknown): { code: string; kind: HaltKind; message: string } {
  const found = walkErrorChain(error, isSyndDBError);
  if (found !== null) {
    return { code: found.code, kind: found.kind, message: firstLine(found.shortMessage) };
  }
  return {
    code: 'INTERNAL',
    kind: 'internal',
    message: firstLine(error instanceof Error ? error.message : String(error)),
  };
}

/** Whether failures of this kind are retried before a halt is reported (storage, gap). */
export function isTransient(kind: HaltKind): boolean {
  return HALT_RULES[kind].retriedBeforeHalt;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
