import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';

/** An app's configuration error class (`RuleConfigError`, `WithdrawalPolicyConfigError`). */
type ConfigErrorClass = new (
  shortMessage: string,
  options: { details?: string; cause?: unknown },
) => Error;

export interface ReadJsonFileOptions<S extends z.ZodType> {
  /** The setting that names the file (`RULES_FILE`), first word of every error. */
  setting: string;
  /** A larger file is refused unread. */
  maxBytes: number;
  schema: S;
  error: ConfigErrorClass;
}

/**
 * Reads a JSON file given by a setting: a regular file of at most `maxBytes`, JSON, and valid for
 * `schema` (its output is returned). Anything else throws `error`: cannot be read, is not JSON,
 * or is invalid, with the first 10 schema issues by path as details.
 */
export function readJsonFile<S extends z.ZodType>(
  path: string,
  options: ReadJsonFileOptions<S>,
): z.output<S> {
  const { setting, maxBytes, schema, error: ConfigError } = options;
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read ${setting} ${path}`, {
      details: (cause as Error).message,
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${setting} ${path} is not JSON`, {
      details: (cause as Error).message,
      cause,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`${setting} ${path} is invalid`, {
      details: parsed.error.issues
        .slice(0, 10)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    });
  }
  return parsed.data;
}
