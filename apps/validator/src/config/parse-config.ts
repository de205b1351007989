import * as kit from '@synddb/app-kit';
import { ValidatorConfigError } from '../errors';
import {
  type ConfigKey,
  configSchema,
  configShape,
  type ValidatorConfig,
  type ValidatorConfigInput,
} from './config-schema';

export type Environment = kit.Environment;
export type OptionEntry = kit.OptionEntry<ConfigKey>;
export type CliCommand = kit.CliCommand<ValidatorConfig, ConfigKey>;

/** Every option in declaration order, with its flag, env var and description. */
export const listOptions = (): OptionEntry[] => kit.listOptions(configShape);

/**
 * Reads options from `argv` (without node and script) and `env`; flags override env vars. An env
 * var set to the empty string counts as unset. Throws `ValidatorConfigError` naming every bad
 * option with its flag, env var and the value's origin.
 */
export function parseValidatorArgs(argv: readonly string[], env: Environment): CliCommand {
  return kit.parseCommandLine(configShape, argv, env, {
    configError: ValidatorConfigError,
    parse: parseInput,
  });
}

/** Validates a programmatic configuration (as `startValidator` receives it) and fills defaults. */
export function resolveValidatorConfig(
  input: ValidatorConfigInput | ValidatorConfig,
): ValidatorConfig {
  return parseInput(input as Record<string, unknown>, kit.valueSources<ConfigKey>(input));
}

function parseInput(
  raw: Record<string, unknown>,
  sources: Partial<Record<ConfigKey, string>>,
): ValidatorConfig {
  const known = new Set(Object.keys(configShape));
  const unknownKeys = Object.keys(raw).filter((k) => !known.has(k));
  const values = { ...raw };
  // A pubkey already parsed to bytes (a ValidatorConfig passed back in) is accepted as hex.
  if (values.sequencerPubkey instanceof Uint8Array) {
    values.sequencerPubkey = Buffer.from(values.sequencerPubkey).toString('hex');
  }
  const input = { values, unknownKeys, sources };
  return kit.validateConfig(configSchema, configShape, input, ValidatorConfigError);
}
