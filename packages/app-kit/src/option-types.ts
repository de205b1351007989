import { z } from 'zod';
import {
  MAX_DURATION_MS,
  parseBoolean,
  parseByteSize,
  parseDuration,
  parseHttpUrl,
  parseInteger,
} from './value-parsers';

/** How an option appears on the command line and in the environment. */
export interface OptionMeta {
  /** Long flag without dashes, e.g. `sync-interval`. */
  flag: string;
  /** Environment variable, e.g. `SYNC_INTERVAL`. */
  env: string;
  /** Placeholder in `--help`, e.g. `DURATION`; empty for switches. */
  valueName: string;
  /** Default as typed by a user (`1s`), shown in `--help` and the README; undefined = none. */
  defaultText: string | undefined;
  /** A switch: `--flag` alone means true. */
  switch: boolean;
  /** Section of `--help` and the README table. */
  group: string;
}

/** Option metadata, keyed by each option's final schema (the one carrying `.describe()`). */
export const optionRegistry = z.registry<OptionMeta>();

const fail = (ctx: z.RefinementCtx, message: string) => {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
};

/** Milliseconds; from `1s`-style text or a number of ms (programmatic use). */
export const duration = () =>
  z.union([z.string(), z.number()]).transform((v, ctx): number => {
    if (typeof v === 'number') {
      return Number.isInteger(v) && v >= 0 && v <= MAX_DURATION_MS
        ? v
        : fail(ctx, `expected a whole number of milliseconds in [0, ${MAX_DURATION_MS}]`);
    }
    const parsed = parseDuration(v);
    return typeof parsed === 'string' ? fail(ctx, parsed) : parsed;
  });

/** A safe integer in [min, max]. */
export const integer = (min: number, max: number) =>
  z.union([z.string(), z.number(), z.bigint()]).transform((v, ctx): number => {
    const parsed = parseInteger(String(v), BigInt(min), BigInt(max));
    return typeof parsed === 'string' ? fail(ctx, parsed) : Number(parsed);
  });

/** A thread count: `auto` (null: decided at start from the cores) or an integer in range. */
export const threads = (max: number) =>
  z.union([z.string(), z.number(), z.null()]).transform((v, ctx): number | null => {
    if (v === null || String(v).trim().toLowerCase() === 'auto') return null;
    const parsed = parseInteger(String(v), 0n, BigInt(max));
    return typeof parsed === 'string' ? fail(ctx, `${parsed} (or auto)`) : Number(parsed);
  });

/** A u64 as bigint. */
export const u64 = () =>
  z.union([z.string(), z.number(), z.bigint()]).transform((v, ctx): bigint => {
    const parsed = parseInteger(String(v), 0n, 2n ** 64n - 1n);
    return typeof parsed === 'string' ? fail(ctx, parsed) : parsed;
  });

/** Bytes, from `64MiB`-style text or a number. */
export const byteSize = (min: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx): number => {
    const parsed = parseByteSize(String(v));
    if (typeof parsed === 'string') return fail(ctx, parsed);
    return parsed >= min ? parsed : fail(ctx, `must be at least ${min} bytes`);
  });

export const boolean = () =>
  z.union([z.boolean(), z.string()]).transform((v, ctx): boolean => {
    if (typeof v === 'boolean') return v;
    const parsed = parseBoolean(v);
    return typeof parsed === 'string' ? fail(ctx, parsed) : parsed;
  });

export const text = () => z.string().trim().min(1, 'must not be empty');

/** A comma-separated list (or an array, programmatically); empty items are dropped. */
export const list = () =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v): string[] =>
      (Array.isArray(v) ? v : v.split(','))
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    );

export const httpUrl = () =>
  z.string().transform((v, ctx): string => {
    const parsed = parseHttpUrl(v);
    return typeof parsed === 'string' ? parsed : fail(ctx, parsed.error);
  });

/**
 * A listen address such as `0.0.0.0:8080`, kept as text. `parse` says what is valid: it throws on
 * a bad address and its message becomes the issue (the apps pass `@synddb/http-api`'s
 * `parseBindAddress`, the parser their servers use; this package does not depend on a server).
 */
export const bindAddress = (parse: (address: string) => unknown) =>
  text().superRefine((v, ctx) => {
    try {
      parse(v);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

/**
 * An EVM address, 0x + 40 hex (any case; checksums are not enforced), kept lowercase. `message`
 * is the issue for anything else.
 */
export const evmAddress = (message = 'expected an EVM address: 0x followed by 40 hex digits') =>
  text().transform((v, ctx): string =>
    /^0x[0-9a-fA-F]{40}$/.test(v) ? v.toLowerCase() : fail(ctx, message),
  );

/** How `withDefault` and `optional` name and document an option. */
export interface OptionSpec {
  env: string;
  flag?: string;
  value?: string;
  group: string;
  describe: string;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Registers the option under `key` with a default given as user input (parsed like any value). */
export function withDefault<S extends z.ZodType>(
  key: string,
  schema: S,
  defaultInput: z.input<S> & (string | boolean),
  spec: OptionSpec,
) {
  const out = schema.prefault(defaultInput as never).describe(spec.describe);
  optionRegistry.add(out as z.ZodType, meta(key, spec, String(defaultInput), schema));
  return out;
}

/** Registers an option without a default. */
export function optional<S extends z.ZodType>(key: string, schema: S, spec: OptionSpec) {
  const out = schema.optional().describe(spec.describe);
  optionRegistry.add(out as z.ZodType, meta(key, spec, undefined, schema));
  return out;
}

function meta(
  key: string,
  spec: OptionSpec,
  defaultText: string | undefined,
  schema: z.ZodType,
): OptionMeta {
  const isSwitch = spec.value === undefined && schema.safeParse(true).success;
  return {
    flag: spec.flag ?? kebab(key),
    env: spec.env,
    valueName: isSwitch ? '' : (spec.value ?? 'VALUE'),
    defaultText,
    switch: isSwitch,
    group: spec.group,
  };
}
