import { parseArgs } from 'node:util';
import { DevnetConfigError } from '../errors';

/** Settings of `synddb-devnet`, after parsing and validation. */
export interface DevnetCliConfig {
  help: boolean;
  host: string;
  port: number;
  privateKey: string | undefined;
  batchMaxMessages: number;
  batchMaxBytes: number;
  flushIntervalMs: number;
  maxBodyBytes: number;
  gcsDirectory: string | undefined;
  gcsPrefix: string;
  app: boolean;
  appDb: string | undefined;
  /** Sample-app transactions per second. */
  rate: number;
  /** Transactions to run, 0 = until stopped. */
  transactions: number;
  seed: number;
  snapshotEvery: number;
  schemaChangeEvery: number;
  changesetsPerRequest: number;
  /** A synddb-relayer the sample app posts its withdrawals to. */
  relayerUrl: string | undefined;
}

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  value?: string;
  description: string;
  default?: string;
}

/** Every flag with its help text; `--help` and the README table come from here. */
export const CLI_OPTIONS = {
  host: {
    type: 'string',
    value: 'HOST',
    default: '127.0.0.1',
    description: 'Address to bind the sequencer to.',
  },
  port: {
    type: 'string',
    short: 'p',
    value: 'PORT',
    default: '8433',
    description: 'Port of the sequencer (0 = any free port).',
  },
  'private-key': {
    type: 'string',
    value: 'HEX',
    description:
      'Sequencer secp256k1 key, 64 hex. Default: a fresh random key (like the Rust sequencer).',
  },
  'batch-max-messages': {
    type: 'string',
    value: 'N',
    default: '50',
    description: 'Flush a batch at this many messages (BATCH_MAX_MESSAGES).',
  },
  'batch-max-bytes': {
    type: 'string',
    value: 'N',
    default: '1048576',
    description: 'Flush a batch at this many COSE bytes (BATCH_MAX_BYTES).',
  },
  'flush-interval-ms': {
    type: 'string',
    value: 'MS',
    default: '5000',
    description: 'Flush a partial batch after this long (BATCH_FLUSH_INTERVAL).',
  },
  'max-body-bytes': {
    type: 'string',
    value: 'N',
    default: String(64 * 1024 * 1024),
    description: 'Largest accepted ingestion request body (Rust: 2 MiB).',
  },
  'gcs-dir': {
    type: 'string',
    value: 'DIR',
    description: 'Also write batches as DIR/{prefix}/batches/{start:012}_{end:012}.cbor.zst.',
  },
  'gcs-prefix': {
    type: 'string',
    value: 'PREFIX',
    default: 'sequencer',
    description: 'Object prefix inside --gcs-dir (GCS_PREFIX).',
  },
  app: { type: 'boolean', description: 'Run the sample application, generating traffic.' },
  'app-db': {
    type: 'string',
    value: 'PATH',
    description: "Sample app's SQLite file. Default: a new temp file.",
  },
  rate: {
    type: 'string',
    value: 'TPS',
    default: '5',
    description: 'Sample-app transactions per second.',
  },
  transactions: {
    type: 'string',
    value: 'N',
    default: '0',
    description: 'Sample-app transactions to run (0 = until stopped).',
  },
  seed: {
    type: 'string',
    value: 'N',
    default: '1',
    description: 'Seed of the deterministic sample-app workload.',
  },
  'snapshot-every': {
    type: 'string',
    value: 'N',
    default: '100',
    description: 'Sample app sends a snapshot every N transactions (0 = only at start).',
  },
  'schema-change-every': {
    type: 'string',
    value: 'N',
    default: '0',
    description:
      'Sample app changes its schema every N transactions (ADD COLUMN / CREATE TABLE, then a snapshot; 0 = never).',
  },
  'changesets-per-request': {
    type: 'string',
    value: 'N',
    default: '1',
    description: 'Changesets the sample app bundles into one POST /changesets.',
  },
  'relayer-url': {
    type: 'string',
    value: 'URL',
    description:
      "Sample app posts each withdrawal to this synddb-relayer's /submit-withdrawal (not waiting for the chain).",
  },
  help: { type: 'boolean', short: 'h', description: 'Show this help.' },
} as const satisfies Record<string, OptionSpec>;

/** Parses `synddb-devnet` arguments; throws `DevnetConfigError` with a clear message. */
export function parseCliArgs(args: readonly string[]): DevnetCliConfig {
  // `pnpm start -- --flag` passes the `--` separator through; it carries no meaning here.
  const effective = args[0] === '--' ? args.slice(1) : [...args];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: effective,
      options: Object.fromEntries(
        Object.entries(CLI_OPTIONS).map(([name, spec]) => [
          name,
          'short' in spec ? { type: spec.type, short: spec.short } : { type: spec.type },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new DevnetConfigError(error instanceof Error ? error.message : String(error));
  }
  const text = (name: keyof typeof CLI_OPTIONS): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const spec: OptionSpec = CLI_OPTIONS[name];
    return spec.default;
  };
  const integer = (
    name: keyof typeof CLI_OPTIONS,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number => {
    const raw = text(name) ?? '';
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new DevnetConfigError(
        `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`,
      );
    }
    return Number(raw);
  };
  const rateText = text('rate') ?? '';
  const rate = Number(rateText);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(rateText) || rate <= 0 || rate > 10_000) {
    throw new DevnetConfigError(
      `--rate must be a number in (0, 10000], got ${JSON.stringify(rateText)}`,
    );
  }
  return {
    help: values.help === true,
    host: text('host') ?? '127.0.0.1',
    port: integer('port', 0, 65535),
    privateKey: text('private-key'),
    batchMaxMessages: integer('batch-max-messages', 1),
    batchMaxBytes: integer('batch-max-bytes', 1),
    flushIntervalMs: integer('flush-interval-ms', 1),
    maxBodyBytes: integer('max-body-bytes', 1),
    gcsDirectory: text('gcs-dir'),
    gcsPrefix: text('gcs-prefix') ?? 'sequencer',
    app: values.app === true,
    appDb: text('app-db'),
    rate,
    transactions: integer('transactions', 0),
    seed: integer('seed', 0, 2 ** 32 - 1),
    snapshotEvery: integer('snapshot-every', 0),
    schemaChangeEvery: integer('schema-change-every', 0),
    changesetsPerRequest: integer('changesets-per-request', 1),
    relayerUrl: relayerUrl(text('relayer-url')),
  };
}

function relayerUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value.replace(/\/+$/, '');
  } catch {
    // below
  }
  throw new DevnetConfigError(`--relayer-url must be an http(s) URL, got ${JSON.stringify(value)}`);
}

/** The `--help` text. */
export function cliHelp(): string {
  const lines = [
    'synddb-devnet: a local SyndDB sequencer (ingestion + /storage API) and a sample application.',
    '',
    'Usage: synddb-devnet [options]',
    '',
    'Options:',
  ];
  for (const [name, raw] of Object.entries(CLI_OPTIONS)) {
    const spec: OptionSpec = raw;
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    const suffix = spec.default !== undefined ? ` (default ${spec.default})` : '';
    lines.push(`  ${flag.padEnd(34)} ${spec.description}${suffix}`);
  }
  return `${lines.join('\n')}\n`;
}
