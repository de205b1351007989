import { SyndDBError } from '@synddb/protocol';
import type { Database } from 'better-sqlite3';

/** What a rule says about the replica after a message's changes. */
export type RuleOutcome = { ok: true } | { ok: false; reason: string };

/** Where a rule is being checked: the changeset message just applied (not committed yet). */
export interface RuleContext {
  sequence: bigint;
  /** The message's sequencer timestamp (unix s). */
  timestamp: bigint;
}

/**
 * An invariant of the replicated application (the plan's "Validate (Invariants)" step), checked
 * after each changeset message's changes and before they commit, on the uncommitted transaction.
 * Snapshots and withdrawals are not checked (as the reference).
 *
 * `validate` must only read `db` (it runs inside the engine's savepoint, and a write would be
 * committed with the message), be synchronous, and decide from the replica alone, so every
 * validator decides the same. A rule that has nothing to check returns `{ ok: true }`. Throwing
 * counts as a failure, with the error's message as the reason.
 */
export interface ValidationRule {
  /** Short stable name: in the halt, logs and metric labels. */
  readonly name: string;
  validate(db: Database, context: RuleContext): RuleOutcome;
}

const PASS: RuleOutcome = Object.freeze({ ok: true });

/** The outcome of a rule that holds. */
export function rulePasses(): RuleOutcome {
  return PASS;
}

/** The outcome of a rule that does not hold, with the reason shown in `/status`, logs and metrics. */
export function ruleFails(reason: string): RuleOutcome {
  return { ok: false, reason };
}

/**
 * A rule did not hold after the changes of the message at `sequence` (or threw): the message was
 * rolled back and the engine halts before it. The halt ends by itself when the message commits:
 * the rule passes on a later attempt, or the validator restarts with another rule set.
 */
export class RuleViolationError extends SyndDBError {
  override name = 'RuleViolationError';
  declare readonly code: 'RULE_VIOLATION';
  override readonly kind = 'rule';
  readonly rule: string;
  readonly sequence: bigint;
  readonly reason: string;
  constructor(rule: string, sequence: bigint, reason: string, cause?: unknown) {
    super('RULE_VIOLATION', `Rule ${rule} failed at sequence ${sequence}: ${oneLine(reason)}`, {
      details: `rule ${rule}, sequence ${sequence}: ${reason}`,
      cause,
    });
    this.rule = rule;
    this.sequence = sequence;
    this.reason = reason;
  }
}

/**
 * Runs `rules` in order; the first that fails (or throws) becomes a RuleViolationError. Called by
 * the engine inside the message's savepoint.
 */
export function checkRules(
  rules: readonly ValidationRule[],
  db: Database,
  context: RuleContext,
): void {
  for (const rule of rules) {
    let outcome: RuleOutcome;
    try {
      outcome = rule.validate(db, context);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RuleViolationError(rule.name, context.sequence, reason, error);
    }
    if (!outcome.ok) throw new RuleViolationError(rule.name, context.sequence, outcome.reason);
  }
}

function oneLine(text: string): string {
  const line = text.split('\n')[0] ?? text;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
