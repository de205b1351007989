import { SyndDBError } from '@synddb/protocol';
import type { Database, Statement } from 'better-sqlite3';
import type { RuleContext, RuleOutcome, ValidationRule } from './validation-rule';

/** A rule declared as a read-only SQL assertion, e.g. from a rules file. */
export interface SqlRuleDefinition {
  /** Letters, digits, `_`, `.`, `-`; at most 64 characters (a metric label). */
  name: string;
  /** One SELECT (or WITH ... SELECT) statement returning one column; its first row is the value. */
  sql: string;
  /** The value the query must return. Default 0 (e.g. `SELECT count(*) ... WHERE <violation>`). */
  expect?: number | bigint;
  /**
   * Longest time one evaluation may take, ms. Default 1000. better-sqlite3 cannot interrupt a
   * statement, so this is checked when the query returns: a slower evaluation fails the rule (a
   * halt, retried), it does not stop the query early.
   */
  timeLimitMs?: number;
}

/** A SQL rule, with the checks the validator also runs at startup. */
export interface SqlRule extends ValidationRule {
  readonly sql: string;
  readonly expect: bigint;
  readonly timeLimitMs: number;
  /**
   * Prepares the statement on `db` (cached per connection) and checks it is a read-only query
   * with one column: RuleConfigError otherwise. SQLite's own error (e.g. `no such table`) when the
   * statement cannot be prepared against this schema.
   */
  prepare(db: Database): Statement;
}

/** A rule definition is unusable: a bad name or value, or SQL that is not one read-only query. */
export class RuleConfigError extends SyndDBError {
  override name = 'RuleConfigError';
  declare readonly code: 'RULE_CONFIG';
  override readonly kind = 'config';
  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super('RULE_CONFIG', shortMessage, options);
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** After comments and whitespace, a query starts with SELECT, WITH or VALUES. */
const QUERY_START = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(select|with|values)\b/i;
const MAX_SQL_CHARS = 100_000;

/**
 * A rule from a read-only SQL assertion: holds when the query's first row's first column equals
 * `expect`. Read-only is enforced twice: the text must be a query (SELECT / WITH / VALUES) and
 * SQLite must report the prepared statement read-only (`sqlite3_stmt_readonly`) and returning
 * data; anything else is a RuleConfigError (a failure of the rule when met at apply time).
 */
export function createSqlRule(definition: SqlRuleDefinition): SqlRule {
  const { name, sql } = definition;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RuleConfigError(`invalid rule name ${JSON.stringify(name)}`, {
      details: 'letters, digits, _ . - only, 1 to 64 characters',
    });
  }
  if (typeof sql !== 'string' || sql.length === 0 || sql.length > MAX_SQL_CHARS) {
    throw new RuleConfigError(`rule ${name}: sql must be a non-empty string`, {
      details: `at most ${MAX_SQL_CHARS} characters`,
    });
  }
  if (!QUERY_START.test(sql)) {
    throw new RuleConfigError(`rule ${name}: sql must be a read-only query`, {
      details: 'it must start with SELECT, WITH or VALUES',
    });
  }
  const expectRaw = definition.expect ?? 0;
  if (typeof expectRaw === 'number' && !Number.isSafeInteger(expectRaw)) {
    throw new RuleConfigError(`rule ${name}: expect must be an integer`);
  }
  const expect = BigInt(expectRaw);
  const timeLimitMs = definition.timeLimitMs ?? 1000;
  if (!(timeLimitMs > 0) || !Number.isFinite(timeLimitMs)) {
    throw new RuleConfigError(`rule ${name}: the time limit must be a positive number of ms`);
  }
  const statements = new WeakMap<Database, Statement>();

  const prepare = (db: Database): Statement => {
    const cached = statements.get(db);
    if (cached !== undefined) return cached;
    const statement = db.prepare(sql);
    if (!statement.reader || !statement.readonly) {
      throw new RuleConfigError(`rule ${name}: sql must be a read-only query`, {
        details: 'SQLite reports a statement that writes or returns no data',
      });
    }
    if (statement.columns().length !== 1) {
      throw new RuleConfigError(`rule ${name}: the query must return one column`, {
        details: `it returns ${statement.columns().length}`,
      });
    }
    statement.pluck(true).safeIntegers(true);
    statements.set(db, statement);
    return statement;
  };

  const validate = (db: Database, _context: RuleContext): RuleOutcome => {
    const statement = prepare(db);
    const started = performance.now();
    const value = statement.get() as unknown;
    const ms = performance.now() - started;
    if (value === undefined) return { ok: false, reason: 'the query returned no row' };
    if (!sameValue(value, expect)) {
      return { ok: false, reason: `returned ${describe(value)}, expected ${expect}` };
    }
    if (ms > timeLimitMs) {
      return {
        ok: false,
        reason: `took ${Math.round(ms)} ms, over its time limit of ${timeLimitMs} ms`,
      };
    }
    return { ok: true };
  };

  return { name, sql, expect, timeLimitMs, prepare, validate };
}

function sameValue(value: unknown, expect: bigint): boolean {
  if (typeof value === 'bigint') return value === expect;
  if (typeof value === 'number') return Number.isInteger(value) && BigInt(value) === expect;
  return false;
}

function describe(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return `'${value.length > 80 ? `${value.slice(0, 80)}…` : value}'`;
  if (value instanceof Uint8Array) return `a ${value.byteLength}-byte blob`;
  return String(value);
}
