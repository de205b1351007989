import type { z } from 'zod';
import { type OptionMeta, optionRegistry } from './option-types';

/** One option of a schema, with its flag, env var and description. */
export interface OptionEntry<K extends string = string> {
  key: K;
  schema: z.ZodType;
  meta: OptionMeta;
  description: string;
}

/** One configuration problem, named by its flag and env var. */
export interface ConfigProblem {
  /** camelCase option key, e.g. `syncInterval`; `''` for command-line syntax errors. */
  key: string;
  /** e.g. `--sync-interval / SYNC_INTERVAL`. */
  names: string;
  /** Where the offending value came from, e.g. `env SYNC_INTERVAL="abc"`. */
  source: string | undefined;
  message: string;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Where each explicitly set option came from (`--flag`, `env NAME` or `value ...`). */
export type OptionSources<K extends string = string> = Partial<Record<K, string>>;

/** What `readCommandLine` found: help, version, or raw option values to validate. */
export type CommandLine<K extends string = string> =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'run';
      /** Text values by key; a repeatable option given several times by flag is an array. */
      raw: Partial<Record<K, string | string[]>>;
      sources: OptionSources<K>;
      /** Syntax problems (unknown flag, missing value, given twice); empty when all is well. */
      problems: ConfigProblem[];
    };

export interface ReadCommandLineOptions<K extends string = string> {
  /** List options whose flag may be given several times (the values add up). */
  repeatable?: ReadonlySet<K>;
  /** Options whose values never appear in messages. */
  secret?: ReadonlySet<K>;
}

/** Every option of `shape` in declaration order; throws if one lacks `withDefault`/`optional`. */
export function listOptions<K extends string>(
  shape: Readonly<Record<K, unknown>>,
): OptionEntry<K>[] {
  return (Object.keys(shape) as K[]).map((key) => {
    const schema = shape[key] as z.ZodType;
    const meta = optionRegistry.get(schema);
    if (meta === undefined) throw new Error(`option ${key} has no metadata`);
    return { key, schema, meta, description: schema.description ?? '' };
  });
}

/** The message of a configuration error: `invalid configuration:` and one line per problem. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map(
    (p) => `  ${p.names}${p.source === undefined ? '' : ` (${p.source})`}: ${p.message}`,
  );
  return `invalid configuration:\n${lines.join('\n')}`;
}

const BOOLEAN_LITERAL = /^(true|false|1|0|yes|no|on|off)$/i;

/** `--flag / ENV`, how a problem names an option. */
export const optionNames = (meta: OptionMeta) => `--${meta.flag} / ${meta.env}`;
const shown = (value: string) =>
  JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

/**
 * Reads options from `argv` (without node and script) and `env`; flags override env vars. An env
 * var set to the empty string counts as unset. `-h`/`--help` and `-V`/`--version` win at once.
 */
export function readCommandLine<K extends string>(
  options: readonly OptionEntry<K>[],
  argv: readonly string[],
  env: Environment,
  settings: ReadCommandLineOptions<K> = {},
): CommandLine<K> {
  const repeatable = settings.repeatable ?? new Set<K>();
  const secret = settings.secret ?? new Set<K>();
  const byFlag = new Map(options.map((o) => [o.meta.flag, o]));
  const raw: Partial<Record<K, string | string[]>> = {};
  const sources: OptionSources<K> = {};
  const problems: ConfigProblem[] = [];

  for (const o of options) {
    const value = env[o.meta.env];
    if (value !== undefined && value !== '') {
      raw[o.key] = value;
      sources[o.key] = secret.has(o.key)
        ? `env ${o.meta.env}`
        : `env ${o.meta.env}=${shown(value)}`;
    }
  }

  const fromFlags = new Set<K>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '-h' || token === '--help') return { kind: 'help' };
    if (token === '-V' || token === '--version') return { kind: 'version' };
    if (!token.startsWith('--') || token === '--') {
      problems.push({
        key: '',
        names: JSON.stringify(token),
        source: 'command line',
        message: 'unexpected argument (options are --name value or --name=value)',
      });
      continue;
    }
    const eq = token.indexOf('=');
    const flag = token.slice(2, eq < 0 ? undefined : eq);
    const option = byFlag.get(flag);
    if (option === undefined) {
      const hint = closest(flag, [...byFlag.keys()]);
      problems.push({
        key: '',
        names: `--${flag}`,
        source: 'command line',
        message: `unknown option${hint === undefined ? '' : ` (did you mean --${hint}?)`}; see --help`,
      });
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = token.slice(eq + 1);
    else if (option.meta.switch) {
      const next = argv[i + 1];
      if (next !== undefined && BOOLEAN_LITERAL.test(next)) {
        value = next;
        i++;
      } else value = 'true';
    } else {
      value = argv[i + 1];
      if (value === undefined) {
        problems.push({
          key: option.key,
          names: optionNames(option.meta),
          source: 'command line',
          message: `missing value (${option.meta.valueName})`,
        });
        continue;
      }
      i++;
    }
    if (fromFlags.has(option.key) && repeatable.has(option.key)) {
      const previous = raw[option.key];
      raw[option.key] = [...(Array.isArray(previous) ? previous : [previous ?? '']), value];
      sources[option.key] = `${sources[option.key]} --${flag}=${shown(value)}`;
      continue;
    }
    if (fromFlags.has(option.key)) {
      problems.push({
        key: option.key,
        names: optionNames(option.meta),
        source: 'command line',
        message: 'given more than once',
      });
      continue;
    }
    fromFlags.add(option.key);
    raw[option.key] = value;
    sources[option.key] = secret.has(option.key) ? `--${flag}` : `--${flag}=${shown(value)}`;
  }
  return { kind: 'run', raw, sources, problems };
}

/** What a daemon's command line asks for: help, the version, or a run with its configuration. */
export type CliCommand<Config, K extends string = string> =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'run';
      config: Config;
      /** Where each explicitly set option came from (`--flag` or `env NAME`). */
      sources: OptionSources<K>;
    };

/** An app's configuration error class (e.g. `ValidatorConfigError`). */
export type ConfigErrorClass = new (problems: readonly ConfigProblem[]) => Error;

export interface ParseCommandLineOptions<K extends string, Config>
  extends ReadCommandLineOptions<K> {
  /** The app's configuration error class, thrown with the syntax problems. */
  configError: ConfigErrorClass;
  /** Validates the raw values into the configuration (throwing the app's configuration error). */
  parse: (raw: Partial<Record<K, string | string[]>>, sources: OptionSources<K>) => Config;
}

/**
 * `readCommandLine` over the options of `shape`, then `parse` on the values read: throws
 * `configError` naming every syntax problem, or whatever `parse` throws.
 */
export function parseCommandLine<K extends string, Config>(
  shape: Readonly<Record<K, unknown>>,
  argv: readonly string[],
  env: Environment,
  settings: ParseCommandLineOptions<K, Config>,
): CliCommand<Config, K> {
  const line = readCommandLine(listOptions(shape), argv, env, settings);
  if (line.kind !== 'run') return line;
  if (line.problems.length > 0) throw new settings.configError(line.problems);
  return { kind: 'run', config: settings.parse(line.raw, line.sources), sources: line.sources };
}

/**
 * Parses `values` with `schema` (an object of the options of `shape`): the output, or
 * `configError` thrown with `problems` (found earlier), then each unknown key, then each schema issue.
 */
export function validateConfig<S extends z.ZodType, K extends string>(
  schema: S,
  shape: Readonly<Record<K, unknown>>,
  input: {
    values: Record<string, unknown>;
    unknownKeys: readonly string[];
    sources: OptionSources<K>;
    problems?: readonly ConfigProblem[];
  },
  configError: ConfigErrorClass,
): z.output<S> {
  const result = schema.safeParse(input.values);
  const problems = [
    ...(input.problems ?? []),
    ...configProblems(listOptions(shape), input.unknownKeys, result.error, input.sources),
  ];
  if (problems.length > 0) throw new configError(problems);
  return result.data as z.output<S>;
}

/** Sources of a programmatic configuration: `value "..."` per set key (just `value` if secret). */
export function valueSources<K extends string>(
  input: object,
  secret: ReadonlySet<K> = new Set<K>(),
): OptionSources<K> {
  const sources: OptionSources<K> = {};
  for (const key of Object.keys(input) as K[]) {
    const v = (input as Record<string, unknown>)[key];
    if (v !== undefined) sources[key] = secret.has(key) ? 'value' : `value ${shown(describe(v))}`;
  }
  return sources;
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * The problems of a parsed configuration: each key not in `known` (`unknown option`), then each
 * schema issue named by its option's flag and env var and the value's origin.
 */
export function configProblems<K extends string>(
  options: readonly OptionEntry<K>[],
  unknownKeys: readonly string[],
  error: z.ZodError | undefined,
  sources: OptionSources<K>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = unknownKeys.map((k) => ({
    key: k,
    names: k,
    source: undefined,
    message: 'unknown option',
  }));
  if (error !== undefined) {
    const metas = new Map(options.map((o) => [o.key as string, o.meta]));
    for (const issue of error.issues) {
      const key = String(issue.path[0] ?? '');
      const meta = metas.get(key);
      problems.push({
        key,
        names: meta === undefined ? key || 'configuration' : optionNames(meta),
        source: sources[key as K],
        message: issue.message,
      });
    }
  }
  return problems;
}

/** The candidate within edit distance 3 of `input`, if any. */
function closest(input: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const c of candidates) {
    const d = editDistance(input, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}
