import { readFileSync, statSync } from 'node:fs';
import { RuleConfigError, type SqlRuleDefinition } from '@synddb/sync';
import { z } from 'zod';

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
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_RULES_FILE_BYTES)
      throw new Error(`larger than ${MAX_RULES_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new RuleConfigError(`cannot read RULES_FILE ${path}`, {
      details: (cause as Error).message,
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RuleConfigError(`RULES_FILE ${path} is not JSON`, {
      details: (cause as Error).message,
      cause,
    });
  }
  const parsed = rulesFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new RuleConfigError(`RULES_FILE ${path} is invalid`, {
      details: parsed.error.issues
        .slice(0, 10)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    });
  }
  return parsed.data.map((r) => ({
    name: r.name,
    sql: r.sql,
    ...(r.expect === undefined ? {} : { expect: r.expect }),
  }));
}
