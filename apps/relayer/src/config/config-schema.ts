import {
  bindAddress,
  boolean,
  byteSize,
  duration,
  evmAddress,
  httpUrl,
  integer,
  list,
  optional,
  text,
  u64,
  withDefault,
} from '@synddb/app-kit';
import { parseBindAddress } from '@synddb/http-api';
import { z } from 'zod';

/** What the relayer says of a value that is not an EVM address. */
const NOT_AN_ADDRESS = 'expected an EVM address: 0x + 40 hex digits';

/** A list of http(s) URLs: comma-separated, or repeated flags. */
const urlList = () =>
  list().transform((items, ctx): string[] => {
    const out: string[] = [];
    for (const item of items) {
      const parsed = httpUrl().safeParse(item);
      if (!parsed.success) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(item)}: ${parsed.error.issues[0]?.message}`,
        });
        return z.NEVER;
      }
      out.push(parsed.data);
    }
    return [...new Set(out)];
  });

/** 32-byte private key as hex (0x optional). Never echoed in errors. */
const privateKey = () =>
  z.string().transform((v, ctx): string => {
    const hex = v.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected 32 bytes as 64 hex characters (0x optional)',
      });
      return z.NEVER;
    }
    return `0x${hex.toLowerCase()}`;
  });

/** Amounts of ether as decimal text (`0.01`), kept as wei. */
const ether = () =>
  z.union([z.string(), z.number()]).transform((v, ctx): bigint => {
    const m = /^(\d{1,12})(?:\.(\d{1,18}))?$/.exec(String(v).trim());
    if (m === null) {
      ctx.addIssue({ code: 'custom', message: 'expected an amount of ether such as 0.01' });
      return z.NEVER;
    }
    return BigInt(m[1]!) * 10n ** 18n + BigInt((m[2] ?? '').padEnd(18, '0'));
  });

/** Gwei as decimal text (`100`, `0.5`), kept as wei. */
const gwei = () =>
  z.union([z.string(), z.number()]).transform((v, ctx): bigint => {
    const m = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(String(v).trim());
    if (m === null) {
      ctx.addIssue({ code: 'custom', message: 'expected gwei such as 100 or 0.5' });
      return z.NEVER;
    }
    return BigInt(m[1]!) * 10n ** 9n + BigInt((m[2] ?? '').padEnd(9, '0'));
  });

/** A bytes32 allowlist: comma-separated; an empty list allows every image (the reference's rule). */
const bytes32List = () =>
  list().transform((items, ctx): string[] => {
    for (const item of items) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(item)) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} is not 0x + 64 hex` });
        return z.NEVER;
      }
    }
    return items.map((i) => i.toLowerCase());
  });

const G = {
  chain: 'Chain and account',
  validators: 'Validators',
  tx: 'Transactions',
  keys: 'Key registration',
  server: 'HTTP server and process',
  logging: 'Logging',
};

/**
 * Every relayer setting. Flags, env vars and defaults of the Rust relayer keep working
 * (docs/compatibility.md#relayer-flags); the `.describe()` texts are `--help` and the README table.
 */
export const configShape = {
  configPath: optional('configPath', text(), {
    env: 'RELAYER_CONFIG_PATH',
    value: 'PATH',
    group: G.server,
    describe:
      "TOML file with the reference's settings (rpc_url, chain_id, bridge_address, private_key, listen_addr, tx_confirmation_timeout_secs, validator_url) and [[application]] tables (audience, allowed_image_digests). Flags and env vars override it.",
  }),
  rpcUrl: optional('rpcUrl', urlList(), {
    env: 'RPC_URL',
    value: 'URL',
    group: G.chain,
    describe:
      'JSON-RPC URL of the chain; comma-separated (or the flag repeated) for failover: reads go to the first that answers, transactions to all. Required.',
  }),
  chainId: optional('chainId', u64(), {
    env: 'CHAIN_ID',
    value: 'ID',
    group: G.chain,
    describe: 'Chain id; transactions are signed for it and the RPC must report it. Required.',
  }),
  bridgeAddress: optional('bridgeAddress', evmAddress(NOT_AN_ADDRESS), {
    env: 'BRIDGE_CONTRACT_ADDRESS',
    value: 'ADDRESS',
    group: G.chain,
    describe: 'Bridge contract; its TeeKeyManager is read from Bridge.teeKeyManager(). Required.',
  }),
  thresholdModule: optional('thresholdModule', evmAddress(NOT_AN_ADDRESS), {
    env: 'THRESHOLD_MODULE_ADDRESS',
    value: 'ADDRESS',
    group: G.chain,
    describe:
      "The Bridge's validator-signature threshold pre-module. Default: the first of Bridge.getPreModules() that answers signatureThreshold().",
  }),
  privateKey: optional('privateKey', privateKey(), {
    env: 'RELAYER_PRIVATE_KEY',
    value: 'HEX',
    group: G.chain,
    describe:
      'Key of the gas-paying account (64 hex, 0x optional); it must be a message initializer on the Bridge. Never logged. Or use --keystore.',
  }),
  keystore: optional('keystore', text(), {
    env: 'RELAYER_KEYSTORE',
    value: 'PATH',
    group: G.chain,
    describe:
      'Encrypted JSON keystore (geth/ethers format) of the account, instead of RELAYER_PRIVATE_KEY.',
  }),
  keystorePasswordFile: optional('keystorePasswordFile', text(), {
    env: 'RELAYER_KEYSTORE_PASSWORD_FILE',
    value: 'PATH',
    group: G.chain,
    describe: "File holding the keystore's password (trailing newline ignored).",
  }),
  minBalance: withDefault('minBalance', ether(), '0.01', {
    env: 'RELAYER_MIN_BALANCE',
    value: 'ETHER',
    group: G.chain,
    describe: "/ready fails while the account's balance is below this many ether.",
  }),
  rpcTimeout: withDefault('rpcTimeout', duration(), '10s', {
    env: 'RPC_TIMEOUT',
    value: 'DURATION',
    group: G.chain,
    describe: 'Timeout of each JSON-RPC request.',
  }),

  validatorUrl: optional('validatorUrl', urlList(), {
    env: 'VALIDATOR_URL',
    value: 'URL',
    group: G.validators,
    describe:
      "Validators' signature APIs (their BRIDGE_SIGNATURE_ENDPOINT, e.g. :8081), comma-separated or the flag repeated. Enables /submit-withdrawal.",
  }),
  validatorTimeout: withDefault('validatorTimeout', duration(), '5s', {
    env: 'VALIDATOR_TIMEOUT',
    value: 'DURATION',
    group: G.validators,
    describe: 'Timeout of each signature request to a validator.',
  }),
  pollInterval: withDefault('pollInterval', duration(), '1s', {
    env: 'RELAYER_POLL_INTERVAL',
    value: 'DURATION',
    group: G.validators,
    describe:
      'First retry delay of a job waiting for signatures or a transient failure; doubles up to --max-backoff.',
  }),
  maxBackoff: withDefault('maxBackoff', duration(), '30s', {
    env: 'RELAYER_MAX_BACKOFF',
    value: 'DURATION',
    group: G.validators,
    describe: 'Longest retry delay of a job.',
  }),

  txConfirmationTimeoutSecs: withDefault('txConfirmationTimeoutSecs', integer(1, 86_400), '120', {
    env: 'TX_CONFIRMATION_TIMEOUT',
    value: 'SECONDS',
    group: G.tx,
    describe:
      'How long /submit-withdrawal and /register-key wait for a confirmation before answering 202 submitted (the job continues).',
  }),
  txReplaceAfter: withDefault('txReplaceAfter', duration(), '30s', {
    env: 'TX_REPLACE_AFTER',
    value: 'DURATION',
    group: G.tx,
    describe:
      'A transaction not mined after this long is replaced (same nonce, fees +12.5% or more).',
  }),
  maxFeePerGas: withDefault('maxFeePerGas', gwei(), '500', {
    env: 'MAX_FEE_PER_GAS_GWEI',
    value: 'GWEI',
    group: G.tx,
    describe:
      'Fee cap: no transaction is signed above it; jobs wait (state ready, reason fee cap) and synddb_relayer_fee_cap_paused is 1.',
  }),
  maxConcurrentJobs: withDefault('maxConcurrentJobs', integer(1, 1000), '32', {
    env: 'RELAYER_MAX_CONCURRENT_JOBS',
    value: 'N',
    group: G.tx,
    describe: 'Jobs worked on at once.',
  }),
  databasePath: withDefault('databasePath', text(), 'relayer.db', {
    env: 'RELAYER_DATABASE_PATH',
    value: 'PATH',
    group: G.tx,
    describe:
      'SQLite job database: every job, its history and every signed transaction, kept across restarts.',
  }),

  requiredAudience: optional('requiredAudience', text(), {
    env: 'REQUIRED_AUDIENCE',
    value: 'TEXT',
    group: G.keys,
    describe:
      'Attestation audience whose keys /register-key registers (apps are keyed by keccak256 of it). Without it (and without [[application]]), /register-key answers 403.',
  }),
  allowedImageDigests: optional('allowedImageDigests', bytes32List(), {
    env: 'ALLOWED_IMAGE_DIGESTS',
    value: 'LIST',
    group: G.keys,
    describe:
      'Allowed image digest hashes (bytes32, comma-separated) for REQUIRED_AUDIENCE; empty allows all (as the reference). Malformed entries are an error, not dropped.',
  }),

  listenAddr: withDefault('listenAddr', bindAddress(parseBindAddress), '0.0.0.0:8082', {
    env: 'RELAYER_LISTEN_ADDR',
    value: 'ADDR',
    group: G.server,
    describe: 'HTTP API bind address (host:port; port 0 picks a free one).',
  }),
  maxBodyBytes: withDefault('maxBodyBytes', byteSize(64), '256KiB', {
    env: 'MAX_BODY_BYTES',
    value: 'BYTES',
    group: G.server,
    describe: 'Largest request body; larger ones get 413.',
  }),
  shutdownTimeout: withDefault('shutdownTimeout', duration(), '10s', {
    env: 'SHUTDOWN_TIMEOUT',
    value: 'DURATION',
    group: G.server,
    describe:
      'Time allowed for a graceful stop after SIGINT/SIGTERM (jobs stop between steps; signed transactions are journaled).',
  }),
  logJson: withDefault('logJson', boolean(), false, {
    env: 'LOG_JSON',
    group: G.logging,
    describe: 'Log JSON lines instead of human-readable text.',
  }),
  logLevel: withDefault('logLevel', z.enum(['trace', 'debug', 'info', 'warn', 'error']), 'info', {
    env: 'LOG_LEVEL',
    value: 'LEVEL',
    group: G.logging,
    describe: 'Minimum log level: trace, debug, info, warn or error.',
  }),
};

export type ConfigKey = keyof typeof configShape;

/** The shape plus `applications` (from the TOML file's [[application]] tables). */
export const configSchema = z
  .object({
    ...configShape,
    applications: z
      .array(z.object({ audience: text(), allowedImageDigests: bytes32List().prefault([]) }))
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const need = (key: string, present: unknown, why: string) => {
      if (present === undefined) ctx.addIssue({ code: 'custom', path: [key], message: why });
    };
    need('rpcUrl', c.rpcUrl?.[0], 'required');
    need('chainId', c.chainId, 'required');
    need('bridgeAddress', c.bridgeAddress, 'required');
    if (c.privateKey === undefined && c.keystore === undefined) {
      need('privateKey', undefined, 'required (or --keystore with --keystore-password-file)');
    }
    if (c.privateKey !== undefined && c.keystore !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['keystore'],
        message: 'set RELAYER_PRIVATE_KEY or RELAYER_KEYSTORE, not both',
      });
    }
    if (c.keystore !== undefined) {
      need('keystorePasswordFile', c.keystorePasswordFile, 'required with --keystore');
    }
  });

/** Parsed configuration (durations in ms, wei as bigint). */
export type RelayerConfig = z.output<typeof configSchema>;
/** What `startRelayer` accepts: strings as on the command line, or numbers/bigints. */
export type RelayerConfigInput = z.input<typeof configSchema>;

/** The applications `/register-key` serves: the TOML file's, or the env/flags' single one. */
export function applicationsOf(
  c: RelayerConfig,
): { audience: string; allowedImageDigests: string[] }[] {
  const apps = [...(c.applications ?? [])];
  if (c.requiredAudience !== undefined) {
    apps.push({ audience: c.requiredAudience, allowedImageDigests: c.allowedImageDigests ?? [] });
  }
  return apps;
}
