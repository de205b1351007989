import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import type { ConfigKey } from './config-schema';

/** The reference's TOML keys (snake_case) and ours, mapped to option keys. */
const KEYS: Record<string, ConfigKey> = {
  rpc_url: 'rpcUrl',
  chain_id: 'chainId',
  bridge_address: 'bridgeAddress',
  private_key: 'privateKey',
  listen_addr: 'listenAddr',
  tx_confirmation_timeout_secs: 'txConfirmationTimeoutSecs',
  validator_url: 'validatorUrl',
  threshold_module: 'thresholdModule',
  keystore: 'keystore',
  keystore_password_file: 'keystorePasswordFile',
  min_balance: 'minBalance',
  database_path: 'databasePath',
  max_fee_per_gas_gwei: 'maxFeePerGas',
  tx_replace_after: 'txReplaceAfter',
};

const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads the relayer's TOML file: the reference's top-level keys and `[[application]]` tables
 * (`audience`, `allowed_image_digests` as an array or a comma-separated string). Unknown keys
 * are errors (the reference's stale example with `key_manager_address` fails loudly).
 */
export function readTomlConfig(
  path: string,
): { values: Record<string, unknown> } | { error: string } {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_FILE_BYTES) return { error: `${path} is larger than 1 MiB` };
    text = bytes.toString('utf8');
  } catch (error) {
    return { error: `cannot read ${path}: ${(error as Error).message}` };
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (error) {
    return { error: `${path} is not valid TOML: ${(error as Error).message.split('\n')[0]}` };
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'application') continue;
    const option = KEYS[key];
    if (option === undefined) return { error: `${path}: unknown key ${JSON.stringify(key)}` };
    values[option] = Array.isArray(value)
      ? value.map(String)
      : typeof value === 'object'
        ? value
        : String(value);
  }
  const apps = doc.application;
  if (apps !== undefined) {
    if (!Array.isArray(apps))
      return { error: `${path}: application must be [[application]] tables` };
    values.applications = apps.map((app: Record<string, unknown>) => ({
      audience: app.audience,
      allowedImageDigests: app.allowed_image_digests ?? [],
    }));
  }
  return { values };
}
