import { describe, expect, it } from 'vitest';
import { ValidatorConfigError } from '../errors';
import { formatHelp } from './help';
import { listOptions, parseValidatorArgs, resolveValidatorConfig } from './parse-config';

const PUBKEY =
  '8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5';
const URL_ENV = { SEQUENCER_URL: 'http://127.0.0.1:8433/' };

function run(argv: string[], env: Record<string, string> = URL_ENV) {
  const command = parseValidatorArgs(argv, env);
  if (command.kind !== 'run') throw new Error(`expected run, got ${command.kind}`);
  return command;
}

function problemsOf(fn: () => unknown): ValidatorConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidatorConfigError) return error;
    throw error;
  }
  throw new Error('expected a ValidatorConfigError');
}

describe('parseValidatorArgs', () => {
  it('fills the reference defaults', () => {
    const { config } = run([]);
    expect(config).toMatchObject({
      databasePath: '/data/validator.db',
      fetcherType: 'auto',
      sequencerUrl: 'http://127.0.0.1:8433',
      httpFetcherTimeout: 30_000,
      httpFetcherMaxRetries: 3,
      gcsPrefix: 'sequencer',
      bindAddress: '0.0.0.0:8080',
      syncInterval: 1000,
      startSequence: 0n,
      logJson: false,
      logLevel: 'info',
      shutdownTimeout: 30_000,
      bridgeSigner: false,
      bridgeSignatureEndpoint: '0.0.0.0:8081',
      gapRetryCount: 5,
      gapRetryDelay: 5000,
      gapSkipOnFailure: false,
      batchSyncEnabled: true,
      batchIndexRefreshInterval: 10_000,
      enableKeyBootstrap: false,
      proofTimeout: 600_000,
      bootstrapTimeout: 900_000,
      maxLag: 1000n,
      prefetchBatches: 4,
      maxMessagesPerTransaction: 512,
      maxBatchBytes: 256 * 1024 * 1024,
      maxSnapshotBytes: 32 * 1024 ** 3,
      maxCompressedBatchBytes: 64 * 1024 * 1024,
      progressInterval: 5000,
    });
    expect(config.maxSnapshotBatchBytes).toBeUndefined();
    expect(config.sequencerPubkey).toBeUndefined();
    expect(config.gcsBucket).toBeUndefined();
  });

  it('reads env vars and lets flags override them', () => {
    const env = {
      ...URL_ENV,
      SYNC_INTERVAL: '250ms',
      DATABASE_PATH: '/env/db.sqlite',
      LOG_JSON: 'true',
      GAP_RETRY_COUNT: '9',
      SEQUENCER_PUBKEY: `0x${PUBKEY}`,
      MAX_BATCH_BYTES: '1MiB',
    };
    const { config, sources } = run(
      ['--sync-interval', '2s', '--log-json=false', '--max-lag', '7', '--gap-skip-on-failure'],
      env,
    );
    expect(config.syncInterval).toBe(2000);
    expect(config.logJson).toBe(false);
    expect(config.databasePath).toBe('/env/db.sqlite');
    expect(config.gapRetryCount).toBe(9);
    expect(config.maxLag).toBe(7n);
    expect(config.gapSkipOnFailure).toBe(true);
    expect(config.maxBatchBytes).toBe(1024 * 1024);
    expect(Buffer.from(config.sequencerPubkey!).toString('hex')).toBe(PUBKEY);
    expect(sources.syncInterval).toBe('--sync-interval="2s"');
    expect(sources.databasePath).toBe('env DATABASE_PATH="/env/db.sqlite"');
  });

  it('takes a value after a switch only when it is a boolean literal', () => {
    expect(run(['--batch-sync-enabled', 'false']).config.batchSyncEnabled).toBe(false);
    const { config } = run(['--log-json', '--database-path', 'x.db']);
    expect(config.logJson).toBe(true);
    expect(config.databasePath).toBe('x.db');
  });

  it('treats an empty env var as unset', () => {
    const { config } = run([], { ...URL_ENV, SEQUENCER_PUBKEY: '', SYNC_INTERVAL: '' });
    expect(config.sequencerPubkey).toBeUndefined();
    expect(config.syncInterval).toBe(1000);
  });

  it('names the flag, the env var and the source of each bad value', () => {
    const error = problemsOf(() =>
      run(['--http-fetcher-max-retries', 'lots'], {
        ...URL_ENV,
        SYNC_INTERVAL: '5',
        BIND_ADDRESS: '8080',
        SEQUENCER_PUBKEY: '04abcd',
      }),
    );
    expect(error.code).toBe('VALIDATOR_CONFIG');
    const message = error.message;
    expect(message).toContain(
      '--sync-interval / SYNC_INTERVAL (env SYNC_INTERVAL="5"): expected a duration',
    );
    expect(message).toContain('add a unit');
    expect(message).toContain('--bind-address / BIND_ADDRESS (env BIND_ADDRESS="8080")');
    expect(message).toContain(
      '--http-fetcher-max-retries / HTTP_FETCHER_MAX_RETRIES (--http-fetcher-max-retries="lots"): expected an integer',
    );
    expect(message).toMatch(/--sequencer-pubkey \/ SEQUENCER_PUBKEY .*128 hex/);
    expect(error.problems).toHaveLength(4);
  });

  it('refuses unknown, repeated and valueless flags and positional arguments', () => {
    expect(problemsOf(() => run(['--sync-intervall', '1s'])).message).toContain(
      'unknown option (did you mean --sync-interval?)',
    );
    expect(problemsOf(() => run(['--max-lag', '1', '--max-lag', '2'])).message).toContain(
      'given more than once',
    );
    expect(problemsOf(() => run(['--database-path'])).message).toContain('missing value (PATH)');
    expect(problemsOf(() => run(['serve'])).message).toContain('unexpected argument');
  });

  it('checks the options that depend on each other', () => {
    expect(problemsOf(() => run([], {})).message).toMatch(
      /--sequencer-url \/ SEQUENCER_URL: set SEQUENCER_URL, GCS_BUCKET or STORAGE_DIR[\s\S]*--sequencer-pubkey \/ SEQUENCER_PUBKEY: required when SEQUENCER_URL is not set/,
    );
    expect(problemsOf(() => run(['--fetcher-type', 'gcs'])).message).toContain(
      '--gcs-bucket / GCS_BUCKET: required when FETCHER_TYPE=gcs',
    );
    expect(
      problemsOf(() => run([], { FETCHER_TYPE: 'fs', SEQUENCER_PUBKEY: PUBKEY })).message,
    ).toContain('--storage-dir / STORAGE_DIR: required when FETCHER_TYPE=fs');
    expect(problemsOf(() => run(['--fetcher-type', 'ftp'])).message).toContain(
      '--fetcher-type / FETCHER_TYPE (--fetcher-type="ftp")',
    );
    expect(problemsOf(() => run(['--bridge-signer'])).message).toContain(
      '--bridge-chain-id / BRIDGE_CHAIN_ID: required in bridge signer mode',
    );
    expect(problemsOf(() => run(['--bridge-signer', '--bridge-chain-id', '1'])).message).toContain(
      '--bridge-address / BRIDGE_CONTRACT_ADDRESS: required in bridge signer mode unless BRIDGE_CHAIN_ID is 31337',
    );
    expect(
      problemsOf(() =>
        run(['--bridge-signer', '--bridge-chain-id', '1', '--bridge-address', '0x12']),
      ).message,
    ).toContain('expected an EVM address');
    expect(
      problemsOf(() =>
        run(['--bridge-signer', '--bridge-chain-id', '31337'], {
          ...URL_ENV,
          BRIDGE_SIGNER_KEY: `0x${'11'.repeat(32)}`,
          BRIDGE_SIGNER_KEY_FILE: '/tmp/k',
        }),
      ).message,
    ).toContain('set BRIDGE_SIGNER_KEY or BRIDGE_SIGNER_KEY_FILE, not both');
    const devnetSigner = run(['--bridge-signer', '--bridge-chain-id', '31337']).config;
    expect([
      devnetSigner.bridgeSigner,
      devnetSigner.bridgeChainId,
      devnetSigner.bridgeAddress,
    ]).toEqual([true, 31337n, undefined]);
    const signer = run([
      '--bridge-signer',
      '--bridge-chain-id',
      '8453',
      '--bridge-address',
      '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
    ]).config;
    expect(signer.bridgeAddress).toBe('0x5fc8d32690cc91d4c39d9d3abcbd16989f875707');
    expect(
      problemsOf(() => run([], { ...URL_ENV, ENABLE_KEY_BOOTSTRAP: 'true' })).message,
    ).toContain('TEE key bootstrap is not available');
    const gcsOnly = run([], { GCS_BUCKET: 'b', SEQUENCER_PUBKEY: PUBKEY }).config;
    expect(gcsOnly.gcsBucket).toBe('b');
  });

  it('parses durations, sizes and u64 values strictly', () => {
    expect(run(['--shutdown-timeout', '1m 30s']).config.shutdownTimeout).toBe(90_000);
    expect(run(['--shutdown-timeout', '1h']).config.shutdownTimeout).toBe(3_600_000);
    expect(run(['--max-snapshot-bytes', '500MB']).config.maxSnapshotBytes).toBe(500_000_000);
    expect(
      run([], { ...URL_ENV, MAX_SNAPSHOT_BATCH_BYTES: '2GiB' }).config.maxSnapshotBatchBytes,
    ).toBe(2 * 1024 ** 3);
    expect(run(['--start-sequence', '18446744073709551615']).config.startSequence).toBe(
      2n ** 64n - 1n,
    );
    expect(problemsOf(() => run(['--start-sequence', '18446744073709551616'])).message).toContain(
      'must be an integer in [0, 18446744073709551615]',
    );
    expect(problemsOf(() => run(['--sync-interval', '1 fortnight'])).message).toContain(
      'unknown unit "fortnight"',
    );
    expect(problemsOf(() => run(['--sync-interval', '30d'])).message).toContain('at most');
    expect(problemsOf(() => run(['--max-batch-bytes', '1TiB'])).message).toContain('unknown unit');
    expect(problemsOf(() => run(['--prefetch-batches', '0'])).message).toContain('[1, 1024]');
  });

  it('returns help and version commands', () => {
    expect(parseValidatorArgs(['--max-lag', '1', '--help'], {})).toEqual({ kind: 'help' });
    expect(parseValidatorArgs(['-V'], {})).toEqual({ kind: 'version' });
  });
});

describe('resolveValidatorConfig', () => {
  it('accepts programmatic values and round-trips a parsed config', () => {
    const config = resolveValidatorConfig({
      sequencerUrl: 'http://127.0.0.1:1',
      syncInterval: 100,
      logJson: true,
      maxLag: 5,
      sequencerPubkey: PUBKEY,
    });
    expect(config.syncInterval).toBe(100);
    expect(config.maxLag).toBe(5n);
    const again = resolveValidatorConfig(config);
    expect(again).toEqual(config);
  });

  it('refuses unknown keys and bad values', () => {
    const error = problemsOf(() =>
      resolveValidatorConfig({ sequencerUrl: 'ftp://x', syncInterval: -1, bogus: 1 } as never),
    );
    expect(error.message).toContain('bogus: unknown option');
    expect(error.message).toContain('--sync-interval / SYNC_INTERVAL (value "-1")');
    expect(error.message).toContain('expected an http(s) URL');
  });
});

describe('--help', () => {
  it('lists every option with its env var, description and default', () => {
    const help = formatHelp('0.1.0');
    const options = listOptions();
    expect(options.length).toBeGreaterThanOrEqual(45);
    for (const o of options) {
      expect(help).toContain(`--${o.meta.flag}`);
      expect(help).toMatch(new RegExp(`--${o.meta.flag}\\b.*\\s${o.meta.env}\\n`));
      const firstWords = o.description.split(' ').slice(0, 3).join(' ');
      expect(help).toContain(firstWords);
      if (o.meta.defaultText !== undefined)
        expect(help).toContain(`[default: ${o.meta.defaultText}]`);
    }
    for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('covers every flag and env var of the reference (docs/compatibility.md#flags-and-environment-variables)', () => {
    const reference = [
      ['database-path', 'DATABASE_PATH'],
      ['state-db-path', 'STATE_DB_PATH'],
      ['pending-changesets-db-path', 'PENDING_CHANGESETS_DB_PATH'],
      ['sequencer-pubkey', 'SEQUENCER_PUBKEY'],
      ['fetcher-type', 'FETCHER_TYPE'],
      ['sequencer-url', 'SEQUENCER_URL'],
      ['http-fetcher-timeout', 'HTTP_FETCHER_TIMEOUT'],
      ['http-fetcher-max-retries', 'HTTP_FETCHER_MAX_RETRIES'],
      ['gcs-bucket', 'GCS_BUCKET'],
      ['gcs-prefix', 'GCS_PREFIX'],
      ['gcs-storage-emulator-host', 'GCS_STORAGE_EMULATOR_HOST'],
      ['bind-address', 'BIND_ADDRESS'],
      ['sync-interval', 'SYNC_INTERVAL'],
      ['start-sequence', 'START_SEQUENCE'],
      ['log-json', 'LOG_JSON'],
      ['otel-enabled', 'OTEL_ENABLED'],
      ['gcp-project-id', 'GCP_PROJECT_ID'],
      ['shutdown-timeout', 'SHUTDOWN_TIMEOUT'],
      ['bridge-signer', 'BRIDGE_SIGNER'],
      ['bridge-address', 'BRIDGE_CONTRACT_ADDRESS'],
      ['bridge-chain-id', 'BRIDGE_CHAIN_ID'],
      ['bridge-signature-endpoint', 'BRIDGE_SIGNATURE_ENDPOINT'],
      ['bridge-signer-key-file', 'BRIDGE_SIGNER_KEY_FILE'],
      ['bridge-signer-key', 'BRIDGE_SIGNER_KEY'],
      ['gap-retry-count', 'GAP_RETRY_COUNT'],
      ['gap-retry-delay', 'GAP_RETRY_DELAY'],
      ['gap-skip-on-failure', 'GAP_SKIP_ON_FAILURE'],
      ['batch-sync-enabled', 'BATCH_SYNC_ENABLED'],
      ['batch-index-refresh-interval', 'BATCH_INDEX_REFRESH_INTERVAL'],
      ['enable-key-bootstrap', 'ENABLE_KEY_BOOTSTRAP'],
      ['bootstrap-rpc-url', 'BOOTSTRAP_RPC_URL'],
      ['bootstrap-chain-id', 'BOOTSTRAP_CHAIN_ID'],
      ['relayer-url', 'RELAYER_URL'],
      ['proof-service-url', 'PROOF_SERVICE_URL'],
      ['attestation-audience', 'ATTESTATION_AUDIENCE'],
      ['image-signature', 'IMAGE_SIGNATURE'],
      ['proof-timeout', 'PROOF_TIMEOUT'],
      ['bootstrap-timeout', 'BOOTSTRAP_TIMEOUT'],
    ];
    const options = new Map(listOptions().map((o) => [o.meta.flag, o.meta.env]));
    for (const [flag, env] of reference) expect(options.get(flag!), flag).toBe(env);
  });
});

describe('withdrawal policies and Bridge completion options', () => {
  const signer = ['--bridge-signer', '--bridge-chain-id', '31337'];

  it('parse exact u256 amounts, address lists and the follower settings', () => {
    const max = ((1n << 256n) - 1n).toString();
    const { config } = run(
      [
        ...signer,
        '--withdrawal-max-amount',
        max,
        '--withdrawal-deny-recipients',
        '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707, 0x00000000000000000000000000000000000000b0',
        '--bridge-rpc-url',
        'https://rpc.example/v2/KEY?x=1',
        '--bridge-address',
        '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707',
      ],
      { ...URL_ENV, WITHDRAWAL_DAILY_CAP: '1000', BRIDGE_CONFIRMATIONS: '3' },
    );
    expect(config.withdrawalMaxAmount).toBe((1n << 256n) - 1n);
    expect(config.withdrawalDailyCap).toBe(1000n);
    expect(config.withdrawalDenyRecipients).toEqual([
      '0x5fc8d32690cc91d4c39d9d3abcbd16989f875707',
      '0x00000000000000000000000000000000000000b0',
    ]);
    expect(config.bridgeRpcUrl).toBe('https://rpc.example/v2/KEY?x=1');
    expect([config.bridgeConfirmations, config.bridgePollInterval, config.bridgeLogRange]).toEqual([
      3, 2000, 2000,
    ]);
  });

  it('refuse malformed amounts and addresses, options outside bridge signer mode, an RPC URL without a Bridge address', () => {
    for (const bad of ['-1', '01', '1.5', (1n << 256n).toString(), 'ten']) {
      expect(problemsOf(() => run([...signer, '--withdrawal-max-amount', bad])).message).toContain(
        'expected a uint256 amount',
      );
    }
    expect(
      problemsOf(() => run([...signer, '--withdrawal-allow-recipients', '0x12,0x34'])).message,
    ).toContain('expected EVM addresses');
    expect(problemsOf(() => run(['--withdrawal-daily-cap', '5'])).message).toContain(
      '--withdrawal-daily-cap / WITHDRAWAL_DAILY_CAP (--withdrawal-daily-cap="5"): only used in bridge signer mode',
    );
    expect(
      problemsOf(() => run([...signer, '--bridge-rpc-url', 'http://127.0.0.1:8545'])).message,
    ).toContain('--bridge-address / BRIDGE_CONTRACT_ADDRESS: required to follow the Bridge');
    expect(
      problemsOf(() => run([...signer, '--bridge-rpc-url', 'ws://127.0.0.1:8545'])).message,
    ).toContain('expected an http(s) URL');
  });
});
