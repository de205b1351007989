import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqlRule, RuleConfigError } from './sql-rule';
import { checkRules, RuleViolationError, type ValidationRule } from './validation-rule';

function bank() {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE balances (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);
    INSERT INTO balances VALUES (1, 5), (2, 7);`);
  return db;
}
const at = { sequence: 9n, timestamp: 1n };

describe('createSqlRule', () => {
  it('holds when the first column of the first row equals expect (default 0)', () => {
    const db = bank();
    const negative = createSqlRule({
      name: 'no_negative',
      sql: 'SELECT count(*) FROM balances WHERE amount < 0',
    });
    expect(negative.validate(db, at)).toEqual({ ok: true });
    db.exec('UPDATE balances SET amount = -1 WHERE id = 2');
    expect(negative.validate(db, at)).toEqual({ ok: false, reason: 'returned 1, expected 0' });
    const total = createSqlRule({
      name: 'supply',
      sql: 'SELECT sum(amount) FROM balances',
      expect: 4,
    });
    expect(total.validate(db, at)).toEqual({ ok: true });
    db.exec('DELETE FROM balances');
    expect(total.validate(db, at)).toEqual({ ok: false, reason: 'returned NULL, expected 4' });
    const none = createSqlRule({ name: 'none', sql: 'SELECT 0 FROM balances' });
    expect(none.validate(db, at)).toEqual({ ok: false, reason: 'the query returned no row' });
    const big = createSqlRule({
      name: 'big',
      sql: 'SELECT 9007199254740993',
      expect: 9007199254740993n,
    });
    expect(big.validate(db, at)).toEqual({ ok: true });
    const text = createSqlRule({ name: 'text', sql: "SELECT 'x'" });
    expect(text.validate(db, at)).toEqual({ ok: false, reason: "returned 'x', expected 0" });
  });

  it('refuses anything but one read-only query with one column', () => {
    const db = bank();
    for (const sql of [
      'DELETE FROM balances',
      'UPDATE balances SET amount = 0',
      'PRAGMA journal_mode = DELETE',
      "ATTACH 'x.db' AS x",
      'BEGIN',
      '',
    ]) {
      expect(() => createSqlRule({ name: 'r', sql }), sql).toThrow(RuleConfigError);
    }
    // Text that looks like a query but writes: SQLite says so when it is prepared.
    const sneaky = createSqlRule({
      name: 'sneaky',
      sql: 'WITH t AS (SELECT 1) DELETE FROM balances RETURNING 0',
    });
    expect(() => sneaky.prepare(db)).toThrow(/read-only query/);
    expect(() => sneaky.validate(db, at)).toThrow(RuleConfigError);
    expect(db.prepare('SELECT count(*) FROM balances').pluck().get()).toBe(2);
    // Two statements, two columns.
    expect(() =>
      createSqlRule({ name: 'two', sql: 'SELECT 0; DELETE FROM balances' }).prepare(db),
    ).toThrow(/more than one statement/);
    expect(() => createSqlRule({ name: 'cols', sql: 'SELECT 0, 1' }).prepare(db)).toThrow(
      /one column/,
    );
    // A missing table is SQLite's error (the validator defers it to apply time, where it fails).
    expect(() =>
      createSqlRule({ name: 'm', sql: 'SELECT count(*) FROM nope' }).prepare(db),
    ).toThrow(/no such table/);
    for (const name of ['', 'a b', 'x'.repeat(65), 'é']) {
      expect(() => createSqlRule({ name, sql: 'SELECT 0' })).toThrow(/invalid rule name/);
    }
    expect(() => createSqlRule({ name: 'e', sql: 'SELECT 0', expect: 0.5 })).toThrow(/integer/);
    expect(() => createSqlRule({ name: 't', sql: 'SELECT 0', timeLimitMs: 0 })).toThrow(
      /time limit/,
    );
  });

  it('fails an evaluation that took longer than its time limit (measured, not interrupted)', () => {
    const db = bank();
    const slow = createSqlRule({
      name: 'slow',
      // about 2M rows of a recursive CTE: tens of ms at least
      sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) - 2000000 FROM c',
      timeLimitMs: 1,
    });
    const outcome = slow.validate(db, at);
    expect(outcome.ok).toBe(false);
    expect(outcome.ok === false && outcome.reason).toMatch(
      /^took \d+ ms, over its time limit of 1 ms$/,
    );
  });
});

describe('checkRules', () => {
  it('runs rules in order; the first failure or throw is a RULE_VIOLATION of kind rule', () => {
    const db = bank();
    const calls: string[] = [];
    const rule = (name: string, result: () => ReturnType<ValidationRule['validate']>) => ({
      name,
      validate: () => {
        calls.push(name);
        return result();
      },
    });
    checkRules([rule('a', () => ({ ok: true }))], db, at);
    let error: unknown;
    try {
      checkRules(
        [
          rule('a', () => ({ ok: true })),
          rule('b', () => ({ ok: false, reason: 'broken\nsecond line' })),
          rule('c', () => ({ ok: true })),
        ],
        db,
        at,
      );
    } catch (e) {
      error = e;
    }
    expect(calls).toEqual(['a', 'a', 'b']);
    expect(error).toBeInstanceOf(RuleViolationError);
    expect(error).toMatchObject({
      code: 'RULE_VIOLATION',
      kind: 'rule',
      rule: 'b',
      sequence: 9n,
      reason: 'broken\nsecond line',
      shortMessage: 'Rule b failed at sequence 9: broken',
    });
    const cause = new Error('boom');
    expect(() =>
      checkRules(
        [
          rule('t', () => {
            throw cause;
          }),
        ],
        db,
        at,
      ),
    ).toThrow(expect.objectContaining({ rule: 't', reason: 'boom', cause }));
  });
});
