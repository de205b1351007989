import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WithdrawalPolicyConfigError } from '@synddb/bridge-signer';
import { RuleConfigError } from '@synddb/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readJsonFile } from './json-file';
import { readRulesFile } from './rules-file';
import { readWithdrawalPolicyFile } from './withdrawal-policy';

const dir = mkdtempSync(join(tmpdir(), 'validator-json-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const thrown = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as Error & { shortMessage: string; details?: string };
  }
  throw new Error('did not throw');
};

describe('readJsonFile', () => {
  it("returns the schema's output", () => {
    expect(
      readRulesFile(file('rules.json', '[{"name":"a","sql":"SELECT 1","expect":"2"}]')),
    ).toEqual([{ name: 'a', sql: 'SELECT 1', expect: 2n }]);
    expect(readWithdrawalPolicyFile(file('policy.json', '{"max_withdrawal":"5"}'))).toEqual({
      max_withdrawal: 5n,
    });
  });

  it("names the setting and the file, with the app's error class", () => {
    const missing = join(dir, 'missing.json');
    const cannot = thrown(() => readRulesFile(missing));
    expect(cannot).toBeInstanceOf(RuleConfigError);
    expect(cannot.shortMessage).toBe(`cannot read RULES_FILE ${missing}`);
    expect(cannot.details).toContain('ENOENT');

    const notJson = thrown(() => readWithdrawalPolicyFile(file('bad.json', '{')));
    expect(notJson).toBeInstanceOf(WithdrawalPolicyConfigError);
    expect(notJson.shortMessage).toBe(
      `WITHDRAWAL_POLICY_FILE ${join(dir, 'bad.json')} is not JSON`,
    );

    const invalid = thrown(() => readRulesFile(file('invalid.json', '[{"name":"a"}, 1]')));
    expect(invalid.shortMessage).toBe(`RULES_FILE ${join(dir, 'invalid.json')} is invalid`);
    expect(invalid.details).toBe(
      '0.sql: Invalid input: expected string, received undefined; 1: Invalid input: expected object, received number',
    );
    expect(thrown(() => readRulesFile(file('object.json', '{}'))).details).toMatch(/^\(root\): /);
  });

  it('refuses a directory and a file over the limit unread', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(thrown(() => readRulesFile(sub)).details).toBe('not a regular file');
    const big = file('big.json', `[${' '.repeat(100)}]`);
    const options = { setting: 'X_FILE', maxBytes: 100, schema: z.array(z.never()) };
    const tooBig = thrown(() => readJsonFile(big, { ...options, error: RuleConfigError }));
    expect(tooBig.shortMessage).toBe(`cannot read X_FILE ${big}`);
    expect(tooBig.details).toBe('larger than 100 bytes');
  });
});
