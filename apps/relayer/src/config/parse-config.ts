import type { z } from 'zod';
import { type ConfigProblem, RelayerConfigError } from '../errors';
import {
  type ConfigKey,
  configSchema,
  configShape,
  type RelayerConfig,
  type RelayerConfigInput,
} from './config-schema';
import { type OptionMeta, optionRegistry } from './option-types';
import { readTomlConfig } from './toml-config';

export interface OptionEntry {
  key: ConfigKey;
  schema: z.ZodType;
  meta: OptionMeta;
  description: string;
}

/** Every option in declaration order, with its flag, env var and description. */
export function listOptions(): OptionEntry[] {
  return (Object.keys(configShape) as ConfigKey[]).map((key) => {
    const schema = configShape[key] as z.ZodType;
    const meta = optionRegistry.get(schema);
    if (meta === undefined) throw new Error(`option ${key} has no metadata`);
    return { key, schema, meta, description: schema.description ?? '' };
  });
}

export type Environment = Readonly<Record<string, string | undefined>>;

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'run';
      config: RelayerConfig;
      /** Where each explicitly set option came from (`--flag` or `env NAME`). */
      sources: Partial<Record<ConfigKey, string>>;
    };

/** List options whose flag may be given several times (the values add up). */
const REPEATABLE = new Set<ConfigKey>(['rpcUrl', 'validatorUrl']);

/** Options whose values never appear in messages. */
const SECRET = new Set<ConfigKey>(['privateKey']);

const BOOLEAN_LITERAL = /^(true|false|1|0|yes|no|on|off)$/i;

const namesOf = (meta: OptionMeta) => `--${meta.flag} / ${meta.env}`;
const shown = (value: string) =>
  JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

/**
 * Reads options from `argv` (without node and script) and `env`; flags override env vars. An env
 * var set to the empty string counts as unset. Throws `RelayerConfigError` naming every bad
 * option with its flag, env var and the value's origin.
 */
export function parseRelayerArgs(argv: readonly string[], env: Environment): CliCommand {
  const options = listOptions();
  const byFlag = new Map(options.map((o) => [o.meta.flag, o]));
  const raw: Partial<Record<ConfigKey, string | string[]>> = {};
  const sources: Partial<Record<ConfigKey, string>> = {};
  const problems: ConfigProblem[] = [];

  for (const o of options) {
    const value = env[o.meta.env];
    if (value !== undefined && value !== '') {
      raw[o.key] = value;
      sources[o.key] = SECRET.has(o.key)
        ? `env ${o.meta.env}`
        : `env ${o.meta.env}=${shown(value)}`;
    }
  }

  const fromFlags = new Set<ConfigKey>();
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
          names: namesOf(option.meta),
          source: 'command line',
          message: `missing value (${option.meta.valueName})`,
        });
        continue;
      }
      i++;
    }
    if (fromFlags.has(option.key) && REPEATABLE.has(option.key)) {
      const previous = raw[option.key];
      raw[option.key] = [...(Array.isArray(previous) ? previous : [previous ?? '']), value];
      sources[option.key] = `${sources[option.key]} --${flag}=${shown(value)}`;
      continue;
    }
    if (fromFlags.has(option.key)) {
      problems.push({
        key: option.key,
        names: namesOf(option.meta),
        source: 'command line',
        message: 'given more than once',
      });
      continue;
    }
    fromFlags.add(option.key);
    raw[option.key] = value;
    sources[option.key] = SECRET.has(option.key) ? `--${flag}` : `--${flag}=${shown(value)}`;
  }
  if (problems.length > 0) throw new RelayerConfigError(problems);
  return { kind: 'run', config: parseInput(raw, sources), sources };
}

/** Validates a programmatic configuration (as `startRelayer` receives it) and fills defaults. */
export function resolveRelayerConfig(input: RelayerConfigInput | RelayerConfig): RelayerConfig {
  const sources: Partial<Record<ConfigKey, string>> = {};
  for (const key of Object.keys(input) as ConfigKey[]) {
    const v = (input as Record<string, unknown>)[key];
    if (v !== undefined) sources[key] = SECRET.has(key) ? 'value' : `value ${shown(describe(v))}`;
  }
  return parseInput(input as Record<string, unknown>, sources);
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function parseInput(
  raw: Record<string, unknown>,
  sources: Partial<Record<ConfigKey, string>>,
): RelayerConfig {
  const known = new Set([...Object.keys(configShape), 'applications']);
  const unknownKeys = Object.keys(raw).filter((k) => !known.has(k));
  const normalized: Record<string, unknown> = { ...raw };
  const problems: ConfigProblem[] = [];
  // The TOML file fills what flags and env vars left unset.
  if (typeof raw.configPath === 'string') {
    const file = readTomlConfig(raw.configPath);
    if ('error' in file) {
      problems.push({
        key: 'configPath',
        names: '--config-path / RELAYER_CONFIG_PATH',
        source: sources.configPath,
        message: file.error,
      });
    } else {
      for (const [key, value] of Object.entries(file.values)) {
        if (normalized[key] === undefined) {
          normalized[key] = value;
          sources[key as ConfigKey] = `${raw.configPath}`;
        }
      }
    }
  }
  // bigints (wei) passed back in as a resolved config are accepted as decimal text
  for (const key of ['minBalance', 'maxFeePerGas'] as const) {
    if (typeof normalized[key] === 'bigint') {
      normalized[key] = weiText(normalized[key] as bigint, key === 'minBalance' ? 18 : 9);
    }
  }
  const result = configSchema.safeParse(normalized);
  problems.push(
    ...unknownKeys.map((k) => ({
      key: k,
      names: k,
      source: undefined,
      message: 'unknown option',
    })),
  );
  if (!result.success) {
    const metas = new Map(listOptions().map((o) => [o.key as string, o.meta]));
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const meta = metas.get(key);
      problems.push({
        key,
        names: meta === undefined ? key || 'configuration' : namesOf(meta),
        source: sources[key as ConfigKey],
        message: issue.message,
      });
    }
  }
  if (problems.length > 0) throw new RelayerConfigError(problems);
  return result.data!;
}

function weiText(wei: bigint, decimals: number): string {
  const unit = 10n ** BigInt(decimals);
  const fraction = (wei % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${wei / unit}${fraction === '' ? '' : `.${fraction}`}`;
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
