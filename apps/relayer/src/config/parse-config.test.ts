/**
 * The relayer's options: the reference's flags and env vars keep working, VALIDATOR_URL and
 * RPC_URL take lists (comma-separated or repeated flags), the reference's TOML file with
 * [[application]] tables fills what flags and env leave unset, and bad values name their flag,
 * env var and origin without echoing a private key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { RelayerConfigError } from '../errors';
import { applicationsOf } from './config-schema';
import { formatHelp } from './help';
import { parseRelayerArgs } from './parse-config';

const KEY = `0x${'11'.repeat(32)}`;
const BRIDGE = '0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9';
const base = {
  RPC_URL: 'http://127.0.0.1:8545',
  CHAIN_ID: '31337',
  BRIDGE_CONTRACT_ADDRESS: BRIDGE,
  RELAYER_PRIVATE_KEY: KEY,
};

function run(argv: string[], env: Record<string, string> = {}) {
  const command = parseRelayerArgs(argv, env);
  if (command.kind !== 'run') throw new Error(command.kind);
  return command.config;
}

describe('relayer configuration', () => {
  it("accepts the reference's env vars with its defaults", () => {
    const c = run([], { ...base, TX_CONFIRMATION_TIMEOUT: '60', VALIDATOR_URL: 'http://v1:8081' });
    expect(c.rpcUrl).toEqual(['http://127.0.0.1:8545']);
    expect(c.chainId).toBe(31337n);
    expect(c.bridgeAddress).toBe(BRIDGE.toLowerCase());
    expect(c.listenAddr).toBe('0.0.0.0:8082');
    expect(c.txConfirmationTimeoutSecs).toBe(60);
    expect(c.validatorUrl).toEqual(['http://v1:8081']);
    expect(c.minBalance).toBe(10n ** 16n);
    expect(c.maxFeePerGas).toBe(500n * 10n ** 9n);
  });

  it('takes lists of validators and RPC URLs, comma-separated or repeated', () => {
    const c = run(
      [
        '--validator-url',
        'http://v2:8081',
        '--validator-url',
        'http://v3:8081/',
        '--rpc-url',
        'http://a:1,http://b:2',
      ],
      { ...base, VALIDATOR_URL: 'http://v1:8081' },
    );
    expect(c.validatorUrl).toEqual(['http://v2:8081', 'http://v3:8081']);
    expect(c.rpcUrl).toEqual(['http://a:1', 'http://b:2']);
  });

  it("reads the reference's TOML file under flags and env", () => {
    const dir = tempDir('relayer-config-');
    const file = join(dir, 'relayer.toml');
    writeFileSync(
      file,
      `rpc_url = "http://toml:8545"
chain_id = 1
bridge_address = "${BRIDGE}"
private_key = "${KEY}"
listen_addr = "127.0.0.1:9000"
tx_confirmation_timeout_secs = 30
validator_url = ["http://v1:8081", "http://v2:8081"]

[[application]]
audience = "https://app.example"
allowed_image_digests = ["0x${'ab'.repeat(32)}"]

[[application]]
audience = "https://other.example"
`,
    );
    const c = run(['--config-path', file], { CHAIN_ID: '5' });
    expect(c.rpcUrl).toEqual(['http://toml:8545']);
    expect(c.chainId).toBe(5n); // env wins over the file
    expect(c.listenAddr).toBe('127.0.0.1:9000');
    expect(c.validatorUrl).toEqual(['http://v1:8081', 'http://v2:8081']);
    expect(applicationsOf(c)).toEqual([
      { audience: 'https://app.example', allowedImageDigests: [`0x${'ab'.repeat(32)}`] },
      { audience: 'https://other.example', allowedImageDigests: [] },
    ]);
    // the reference's stale example keys fail loudly
    writeFileSync(file, 'key_manager_address = "0x00"\n');
    expect(() => run(['--config-path', file], base)).toThrow(/unknown key "key_manager_address"/);
  });

  it('names every bad option and never echoes a key', () => {
    let error: RelayerConfigError | undefined;
    try {
      run(['--chain-id', 'x'], { RELAYER_PRIVATE_KEY: 'secret-not-hex', RPC_URL: 'ftp://x' });
    } catch (e) {
      error = e as RelayerConfigError;
    }
    expect(error).toBeInstanceOf(RelayerConfigError);
    expect(error!.message).toMatch(/--chain-id \/ CHAIN_ID/);
    expect(error!.message).toMatch(/--rpc-url \/ RPC_URL/);
    expect(error!.message).toMatch(/--private-key \/ RELAYER_PRIVATE_KEY/);
    expect(error!.message).not.toContain('secret-not-hex');
    expect(() => run(['--keystore', 'k.json'], { ...base, RELAYER_PRIVATE_KEY: '' })).toThrow(
      /keystore-password-file/,
    );
  });

  it('documents every option in --help', () => {
    const help = formatHelp('1.2.3');
    for (const env of [
      'RPC_URL',
      'VALIDATOR_URL',
      'RELAYER_LISTEN_ADDR',
      'RELAYER_DATABASE_PATH',
      'RELAYER_KEYSTORE',
    ]) {
      expect(help).toContain(env);
    }
  });
});
