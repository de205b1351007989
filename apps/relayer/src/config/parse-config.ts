import * as kit from '@synddb/app-kit';
import { type ConfigProblem, RelayerConfigError } from '../errors';
import {
  type ConfigKey,
  configSchema,
  configShape,
  type RelayerConfig,
  type RelayerConfigInput,
} from './config-schema';
import { readTomlConfig } from './toml-config';

/** List options whose flag may be given several times (the values add up). */
const REPEATABLE = new Set<ConfigKey>(['rpcUrl', 'validatorUrl']);

/** Options whose values never appear in messages. */
const SECRET = new Set<ConfigKey>(['privateKey']);

export type Environment = kit.Environment;
export type OptionEntry = kit.OptionEntry<ConfigKey>;
export type CliCommand = kit.CliCommand<RelayerConfig, ConfigKey>;

/** Every option in declaration order, with its flag, env var and description. */
export const listOptions = (): OptionEntry[] => kit.listOptions(configShape);

/**
 * Reads options from `argv` (without node and script) and `env`; flags override env vars. An env
 * var set to the empty string counts as unset. Throws `RelayerConfigError` naming every bad
 * option with its flag, env var and the value's origin.
 */
export function parseRelayerArgs(argv: readonly string[], env: Environment): CliCommand {
  return kit.parseCommandLine(configShape, argv, env, {
    repeatable: REPEATABLE,
    secret: SECRET,
    configError: RelayerConfigError,
    parse: parseInput,
  });
}

/** Validates a programmatic configuration (as `startRelayer` receives it) and fills defaults. */
export function resolveRelayerConfig(input: RelayerConfigInput | RelayerConfig): RelayerConfig {
  return parseInput(input as Record<string, unknown>, kit.valueSources(input, SECRET));
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
  const input = { values: normalized, unknownKeys, sources, problems };
  return kit.validateConfig(configSchema, configShape, input, RelayerConfigError);
}

function weiText(wei: bigint, decimals: number): string {
  const unit = 10n ** BigInt(decimals);
  const fraction = (wei % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${wei / unit}${fraction === '' ? '' : `.${fraction}`}`;
}
