import { RuleConfigError, type SqlRuleDefinition } from '@synddb/sync';
import { z } from 'zod';
import { readJsonFile } from './json-file';

/** A rules file larger than this is refused (it holds a few queries). */
const MAX_RULES_FILE_BYTES = 1024 * 1024;
const MAX_RULES = 1000;

const expectValue = z.union([
  z.number().int().refine(Number.isSafeInteger, 'expected a safe integer'),
  z
    .string()
    .regex(/^-?(0|[1-9][0-9]{0,18})$/, 'expected an integer (decimal string)')
    .transform((v) => BigInt(v)),
]);

/** `RULES_FILE`: an array of `{name, sql, expect?}`, no other key accepted. */
export const rulesFileSchema = z
  .array(
    z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only, 1 to 64'),
      sql: z.string().min(1).max(100_000),
      expect: expectValue.optional(),
    }),
  )
  .max(MAX_RULES)
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((rule, i) => {
      if (seen.has(rule.name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate name ${rule.name}` });
      }
      seen.add(rule.name);
    });
  });

/** Reads and checks a rules file (size-capped, strict JSON schema); the definitions in order. */
export function readRulesFile(path: string): SqlRuleDefinition[] {
  const rules = readJsonFile(path, {
    setting: 'RULES_FILE',
    maxBytes: MAX_RULES_FILE_BYTES,
    schema: rulesFileSchema,
    error: RuleConfigError,
  });
  return rules.map((r) => ({
    name: r.name,
    sql: r.sql,
    ...(r.expect === undefined ? {} : { expect: r.expect }),
  }));
}
