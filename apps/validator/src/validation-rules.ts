import type { Logger } from '@synddb/app-kit';
import { createSqlRule, RuleConfigError, type SqlRule, type ValidationRule } from '@synddb/sync';
import type { Database } from 'better-sqlite3';
import { Counter, type Registry } from 'prom-client';
import type { ValidatorConfig } from './config/config-schema';
import { readRulesFile } from './config/rules-file';

/**
 * The invariant rules of a validator: the SQL rules of `RULES_FILE` (each with `RULE_TIME_LIMIT`),
 * then the embedder's, each counted in `synddb_validator_rule_evaluations_total{rule}` and
 * `synddb_validator_rule_failures_total{rule}`.
 *
 * Checked against the replica before sync starts: a SQL rule that SQLite does not report as a
 * read-only query, or that takes longer than its time limit on the replica as it is, refuses to
 * start (RuleConfigError). A rule whose tables do not exist yet (a fresh replica before its
 * schema snapshot) is checked when it first runs, where the same problems halt sync.
 */
export function createValidationRules(
  config: ValidatorConfig,
  db: Database,
  registry: Registry,
  logger: Logger,
  embedderRules: readonly ValidationRule[] = [],
): ValidationRule[] {
  const sqlRules =
    config.rulesFile === undefined
      ? []
      : readRulesFile(config.rulesFile).map((d) =>
          createSqlRule({ ...d, timeLimitMs: config.ruleTimeLimit }),
        );
  const rules: ValidationRule[] = [...sqlRules, ...embedderRules];
  const names = new Set<string>();
  for (const rule of rules) {
    if (names.has(rule.name)) {
      throw new RuleConfigError(`two invariant rules are named ${rule.name}`, {
        details: 'rule names label the halt and the metrics: make them unique',
      });
    }
    names.add(rule.name);
  }
  for (const rule of sqlRules) dryRun(rule, db, logger);
  if (rules.length === 0) return [];
  logger.info('invariant rules', { rules: rules.map((r) => r.name) });
  return instrument(rules, registry);
}

/** Prepares and runs a SQL rule once on the replica as it is (outside any transaction). */
function dryRun(rule: SqlRule, db: Database, logger: Logger): void {
  try {
    rule.prepare(db);
  } catch (error) {
    if (error instanceof RuleConfigError) throw error;
    logger.warn(
      'invariant rule cannot be prepared on the replica yet; it is checked when it runs',
      {
        rule: rule.name,
        error: (error as Error).message,
      },
    );
    return;
  }
  const started = performance.now();
  const outcome = rule.validate(db, { sequence: -1n, timestamp: 0n });
  const ms = performance.now() - started;
  if (ms > rule.timeLimitMs) {
    throw new RuleConfigError(
      `rule ${rule.name} took ${Math.round(ms)} ms on the replica, over RULE_TIME_LIMIT (${rule.timeLimitMs} ms)`,
      { details: 'make the query cheaper (an index) or raise RULE_TIME_LIMIT' },
    );
  }
  if (!outcome.ok) {
    logger.warn('invariant rule does not hold on the replica as it is', {
      rule: rule.name,
      reason: outcome.reason,
    });
  }
}

function instrument(rules: ValidationRule[], registry: Registry): ValidationRule[] {
  const evaluations = counter(
    registry,
    'synddb_validator_rule_evaluations_total',
    'Invariant rule checks (one per rule per changeset message applied, retries included)',
  );
  const failures = counter(
    registry,
    'synddb_validator_rule_failures_total',
    'Invariant rule checks that failed or threw (each halts sync before the message)',
  );
  return rules.map((rule) => {
    const evaluated = evaluations.labels({ rule: rule.name });
    const failed = failures.labels({ rule: rule.name });
    failed.inc(0);
    return {
      name: rule.name,
      validate(db, context) {
        evaluated.inc();
        try {
          const outcome = rule.validate(db, context);
          if (!outcome.ok) failed.inc();
          return outcome;
        } catch (error) {
          failed.inc();
          throw error;
        }
      },
    };
  });
}

function counter(registry: Registry, name: string, help: string): Counter<'rule'> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<'rule'>;
  return new Counter({ name, help, labelNames: ['rule'], registers: [registry] });
}
