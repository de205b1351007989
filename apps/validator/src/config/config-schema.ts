// Over ~600 lines on purpose: this is one declarative table, every flag and environment variable
// of the validator with its type, default, section and help, in the order the README table and
// --help are generated from (test/readme.test.ts checks the README against it). Split by section,
// the one table would be scattered over files without separating any logic.
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
  threads,
  u64,
  withDefault,
} from '@synddb/app-kit';
import { parseBindAddress } from '@synddb/http-api';
import { parseSequencerPubkey } from '@synddb/verifier';
import { z } from 'zod';

const U256_MAX = (1n << 256n) - 1n;

/** An exact uint256 amount (decimal digits, no sign, no leading zeros), as bigint. */
const u256 = () =>
  z.union([z.string(), z.bigint()]).transform((v, ctx): bigint => {
    const text = String(v).trim();
    if (!/^(0|[1-9][0-9]{0,77})$/.test(text) || BigInt(text) > U256_MAX) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected a uint256 amount: decimal digits without sign or leading zeros',
      });
      return z.NEVER;
    }
    return BigInt(text);
  });

/** A comma-separated list of EVM addresses, kept lowercase. */
const addressList = () =>
  list().transform((items, ctx): string[] => {
    for (const item of items) {
      if (!/^0x[0-9a-fA-F]{40}$/.test(item)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected EVM addresses (0x + 40 hex digits), got ${JSON.stringify(item.slice(0, 60))}`,
        });
        return z.NEVER;
      }
    }
    return items.map((item) => item.toLowerCase());
  });

/** A JSON-RPC URL: http(s), query allowed (some providers carry the key there); never logged whole. */
const rpcUrl = () =>
  text().transform((v, ctx): string => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected an http(s) URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({
        code: 'custom',
        message: `expected an http(s) URL, got scheme ${url.protocol}`,
      });
      return z.NEVER;
    }
    return v;
  });

const pubkey = () =>
  z.string().transform((v, ctx): Uint8Array => {
    try {
      return parseSequencerPubkey(v);
    } catch (error) {
      const e = error as Error & { shortMessage?: string; details?: string };
      ctx.addIssue({
        code: 'custom',
        message: `${e.shortMessage ?? e.message}${e.details ? ` (${e.details})` : ''}`,
      });
      return z.NEVER;
    }
  });

const G = {
  storage: 'Storage and trust',
  sync: 'Sync',
  rules: 'Invariant rules',
  limits: 'Limits',
  server: 'HTTP server and process',
  query: 'Read queries',
  logging: 'Logging',
  bridge: 'Bridge signer',
  policy: 'Withdrawal policies (bridge signer)',
  chain: 'Bridge completion on-chain (bridge signer)',
  compat: 'Reference options not used by this validator',
};

/**
 * Every validator setting. Flag names, env vars and defaults follow the Rust validator
 * (docs/compatibility.md#flags-and-environment-variables); the `.describe()` texts are `--help` and the README table.
 */
export const configShape = {
  // Storage and trust
  sequencerPubkey: optional('sequencerPubkey', pubkey(), {
    env: 'SEQUENCER_PUBKEY',
    value: 'HEX',
    group: G.storage,
    describe:
      'Trusted sequencer key: 128 hex chars (64-byte X||Y, no 04 prefix), 0x optional. If unset, it is read from SEQUENCER_URL/status and trusted on first use (a warning is logged).',
  }),
  fetcherType: withDefault('fetcherType', z.enum(['auto', 'http', 'gcs', 'fs']), 'auto', {
    env: 'FETCHER_TYPE',
    value: 'TYPE',
    group: G.storage,
    describe:
      'Where batches come from: http (sequencer), gcs (bucket), fs (directory), or auto: gcs when GCS_BUCKET is set, else fs when STORAGE_DIR is set, else http. With gcs or fs, SEQUENCER_URL (if set) is a fallback source.',
  }),
  sequencerUrl: optional('sequencerUrl', httpUrl(), {
    env: 'SEQUENCER_URL',
    value: 'URL',
    group: G.storage,
    describe:
      'Sequencer base URL (storage API and /status). Required for http. Trailing / is trimmed.',
  }),
  httpFetcherTimeout: withDefault('httpFetcherTimeout', duration(), '30s', {
    env: 'HTTP_FETCHER_TIMEOUT',
    value: 'DURATION',
    group: G.storage,
    describe:
      'Per-attempt timeout of every storage request, headers and body: the HTTP fetcher, GCS listings and downloads (a stalled or trickling body is aborted), and pubkey discovery.',
  }),
  httpFetcherMaxRetries: withDefault('httpFetcherMaxRetries', integer(0, 100), '3', {
    env: 'HTTP_FETCHER_MAX_RETRIES',
    value: 'N',
    group: G.storage,
    describe:
      'Quick retries inside one storage request (HTTP fetcher and GCS) for transport errors, timeouts and 408/429/5xx, with jittered backoff and Retry-After; longer outages are retried by the sync loop (GAP_RETRY_*).',
  }),
  gcsBucket: optional('gcsBucket', text(), {
    env: 'GCS_BUCKET',
    value: 'NAME',
    group: G.storage,
    describe: 'GCS bucket holding the batches. Required for gcs.',
  }),
  gcsPrefix: withDefault('gcsPrefix', text(), 'sequencer', {
    env: 'GCS_PREFIX',
    value: 'PREFIX',
    group: G.storage,
    describe:
      "Object prefix: batches are {prefix}/batches/*.cbor.zst (GCS and --storage-dir). Must match the sequencer's.",
  }),
  gcsStorageEmulatorHost: optional('gcsStorageEmulatorHost', text(), {
    env: 'GCS_STORAGE_EMULATOR_HOST',
    value: 'HOST',
    group: G.storage,
    describe: 'GCS emulator (e.g. fake-gcs-server) host or URL; anonymous access.',
  }),
  storageDir: optional('storageDir', text(), {
    env: 'STORAGE_DIR',
    value: 'DIR',
    group: G.storage,
    describe:
      'Local directory with the GCS layout ({dir}/{prefix}/batches/...), e.g. an archive or a synced copy of the bucket. Required for fs.',
  }),

  // Sync
  databasePath: withDefault('databasePath', text(), '/data/validator.db', {
    env: 'DATABASE_PATH',
    value: 'PATH',
    group: G.sync,
    describe:
      'Replica SQLite file (created with its directory). Sync progress is stored inside it, in the same transactions as the data. :memory: is accepted.',
  }),
  syncInterval: withDefault('syncInterval', duration(), '1s', {
    env: 'SYNC_INTERVAL',
    value: 'DURATION',
    group: G.sync,
    describe: 'Poll interval when caught up.',
  }),
  startSequence: withDefault('startSequence', u64(), '0', {
    env: 'START_SEQUENCE',
    value: 'SEQ',
    group: G.sync,
    describe:
      'First sequence of a fresh replica (ignored once the replica has progress). The reference parses but ignores it.',
  }),
  batchSyncEnabled: withDefault('batchSyncEnabled', boolean(), true, {
    env: 'BATCH_SYNC_ENABLED',
    group: G.sync,
    describe: "Sync by batches (default) instead of the sequencer's single-message endpoint.",
  }),
  batchIndexRefreshInterval: withDefault('batchIndexRefreshInterval', duration(), '10s', {
    env: 'BATCH_INDEX_REFRESH_INTERVAL',
    value: 'DURATION',
    group: G.sync,
    describe: 'Full re-listing interval of the batch index (new batches are listed incrementally).',
  }),
  gapRetryCount: withDefault('gapRetryCount', integer(0, 1_000_000), '5', {
    env: 'GAP_RETRY_COUNT',
    value: 'N',
    group: G.sync,
    describe:
      'Retries of a missing range or a storage error (any store) before it is reported as a halt in /status (or the gap is skipped); retrying goes on while halted.',
  }),
  gapRetryDelay: withDefault('gapRetryDelay', duration(), '5s', {
    env: 'GAP_RETRY_DELAY',
    value: 'DURATION',
    group: G.sync,
    describe:
      'Longest wait between two sync attempts after a failure: the jittered exponential backoff grows from 250ms up to it, a halted validator retries about this often, and a storage Retry-After can lengthen a wait up to 60s.',
  }),
  gapSkipOnFailure: withDefault('gapSkipOnFailure', boolean(), false, {
    env: 'GAP_SKIP_ON_FAILURE',
    group: G.sync,
    describe:
      'Skip a gap that persists after the retries (recorded in /status) instead of halting until it is filled.',
  }),
  prefetchBatches: withDefault('prefetchBatches', integer(1, 1024), '4', {
    env: 'PREFETCH_BATCHES',
    value: 'N',
    group: G.sync,
    describe: 'Batches downloaded, decoded and verified ahead of the one being applied.',
  }),
  maxMessagesPerTransaction: withDefault(
    'maxMessagesPerTransaction',
    integer(1, 1_000_000),
    '512',
    {
      env: 'MAX_MESSAGES_PER_TRANSACTION',
      value: 'N',
      group: G.sync,
      describe: 'Messages grouped in one SQLite commit while catching up.',
    },
  ),
  verifyThreads: withDefault('verifyThreads', threads(256), 'auto', {
    env: 'VERIFY_THREADS',
    value: 'N',
    group: G.sync,
    describe:
      'Worker threads that decompress, decode and verify batches next to the applying thread (with one, small message payloads are decoded on the applying thread); 0 does everything on the main thread. Default auto: cores - 1 (0 on one core).',
  }),
  maxCommitTime: withDefault('maxCommitTime', duration(), '10ms', {
    env: 'MAX_COMMIT_TIME',
    value: 'DURATION',
    group: G.sync,
    describe:
      'A catch-up commit stops taking messages after this long, and the HTTP API is served between commits: the bound on how long a read waits for the applying thread.',
  }),
  progressInterval: withDefault('progressInterval', duration(), '5s', {
    env: 'PROGRESS_INTERVAL',
    value: 'DURATION',
    group: G.sync,
    describe: 'Minimum interval between catch-up progress log lines.',
  }),

  // Invariant rules
  rulesFile: optional('rulesFile', text(), {
    env: 'RULES_FILE',
    value: 'PATH',
    group: G.rules,
    describe:
      'JSON file of invariant rules, read at start: [{"name", "sql", "expect"?}]. Each sql is one read-only query (SELECT/WITH/VALUES; anything else is refused) whose first column must equal expect (an integer, default 0) after every changeset message, checked before the message commits; a failure halts sync before that message (RULE_VIOLATION) until the rule passes or the rule set changes.',
  }),
  ruleTimeLimit: withDefault('ruleTimeLimit', duration(), '1s', {
    env: 'RULE_TIME_LIMIT',
    value: 'DURATION',
    group: G.rules,
    describe:
      'Longest time one rule may take on one message. Measured, not interrupted: a slower evaluation fails the rule (a halt, retried), and a rule slower than this on the replica at start refuses to start.',
  }),

  // Limits
  maxLag: withDefault('maxLag', u64(), '1000', {
    env: 'MAX_LAG',
    value: 'SEQUENCES',
    group: G.limits,
    describe:
      '/ready answers 503 when the replica is more than this many sequences behind the storage head.',
  }),
  maxBatchBytes: withDefault('maxBatchBytes', byteSize(1024), '256MiB', {
    env: 'MAX_BATCH_BYTES',
    value: 'BYTES',
    group: G.limits,
    describe:
      'Cap on a decompressed batch and on each decompressed changeset or withdrawal payload (zstd-bomb guard). In a batch that carries a snapshot, on everything but the snapshot payload.',
  }),
  maxSnapshotBytes: withDefault('maxSnapshotBytes', byteSize(1024), '32GiB', {
    env: 'MAX_SNAPSHOT_BYTES',
    value: 'BYTES',
    group: G.limits,
    describe:
      'Cap on a decompressed snapshot payload (the database image). Snapshots are streamed to disk, never held in memory: this bounds the disk a snapshot takes (its image, then a copy of it while it is swapped in, checked against free space), not memory.',
  }),
  maxCompressedBatchBytes: withDefault('maxCompressedBatchBytes', byteSize(1024), '64MiB', {
    env: 'MAX_COMPRESSED_BATCH_BYTES',
    value: 'BYTES',
    group: G.limits,
    describe:
      'Largest batch object downloaded from storage into memory. A larger one is accepted only when it carries a snapshot (MAX_SNAPSHOT_BATCH_BYTES).',
  }),
  maxSnapshotBatchBytes: optional('maxSnapshotBatchBytes', byteSize(1024), {
    env: 'MAX_SNAPSHOT_BATCH_BYTES',
    value: 'BYTES',
    group: G.limits,
    describe:
      'Largest batch that carries a snapshot, downloaded and decompressed. A batch over MAX_COMPRESSED_BATCH_BYTES is streamed: a snapshot payload in it is spooled to a file beside the replica (checked against free space), hashed as it arrives and verified before anything is applied; its other messages must still fit MAX_COMPRESSED_BATCH_BYTES and MAX_BATCH_BYTES, and a batch without a snapshot is refused as before. Default: MAX_SNAPSHOT_BYTES plus 1/64 (an incompressible image grows by up to 1/256 in each zstd layer).',
  }),

  // HTTP server and process
  bindAddress: withDefault('bindAddress', bindAddress(parseBindAddress), '0.0.0.0:8080', {
    env: 'BIND_ADDRESS',
    value: 'ADDR',
    group: G.server,
    describe:
      'Main API (/health, /ready, /status, /metrics, /query, /rpc, /openapi.json): host:port, :port or [ipv6]:port.',
  }),
  rateLimit: withDefault('rateLimit', integer(0, 1_000_000), '0', {
    env: 'RATE_LIMIT',
    value: 'REQ_PER_S',
    group: G.server,
    describe:
      'Requests per second per client IP (token bucket) on every route except /health, /healthz, /ready and /metrics; over it: 429 with Retry-After. 0 = off.',
  }),
  rateLimitBurst: optional('rateLimitBurst', integer(1, 1_000_000), {
    env: 'RATE_LIMIT_BURST',
    value: 'N',
    group: G.server,
    describe: 'Requests a client may send at once (bucket size). Default: RATE_LIMIT.',
  }),
  maxBodyBytes: withDefault('maxBodyBytes', byteSize(64), '1MiB', {
    env: 'MAX_BODY_BYTES',
    value: 'BYTES',
    group: G.server,
    describe: 'Largest request body; larger ones get 413.',
  }),
  corsOrigins: optional('corsOrigins', list(), {
    env: 'CORS_ORIGINS',
    value: 'ORIGINS',
    group: G.server,
    describe:
      'Comma-separated origins allowed by CORS (scheme://host[:port]), or * for any. Default: no CORS headers.',
  }),
  shutdownTimeout: withDefault('shutdownTimeout', duration(), '30s', {
    env: 'SHUTDOWN_TIMEOUT',
    value: 'DURATION',
    group: G.server,
    describe:
      'Time allowed for a graceful stop after SIGINT/SIGTERM; a second signal exits at once.',
  }),

  wsMaxClients: withDefault('wsMaxClients', integer(0, 1_000_000), '1000', {
    env: 'WS_MAX_CLIENTS',
    value: 'N',
    group: G.server,
    describe:
      'Most concurrent WebSocket subscribers on /ws; more are closed with 1013. 0 turns /ws off.',
  }),
  wsMaxQueue: withDefault('wsMaxQueue', integer(1, 10_000_000), '10000', {
    env: 'WS_MAX_QUEUE',
    value: 'N',
    group: G.server,
    describe:
      'Messages queued for one WebSocket client before it is dropped as a slow consumer (close 4008).',
  }),
  wsMaxClientsPerAddress: withDefault('wsMaxClientsPerAddress', integer(0, 1_000_000), '16', {
    env: 'WS_MAX_CLIENTS_PER_ADDRESS',
    value: 'N',
    group: G.server,
    describe:
      'Most WebSocket subscribers from one client address; more upgrades get 429 (one client cannot hold every slot). Each upgrade also takes a RATE_LIMIT token. 0 = no cap.',
  }),
  wsMaxTotalBuffered: withDefault('wsMaxTotalBuffered', byteSize(1024), '128MiB', {
    env: 'WS_MAX_TOTAL_BUFFERED',
    value: 'BYTES',
    group: G.server,
    describe:
      'Bytes held for all WebSocket subscribers together (queued changesets and unsent frames); over it the subscriber holding the most is dropped as a slow consumer (4008).',
  }),
  maxConnections: withDefault('maxConnections', threads(1_000_000), 'auto', {
    env: 'MAX_CONNECTIONS',
    value: 'N',
    group: G.server,
    describe:
      'Most connections held at once on the main API (WebSockets included); more are closed at once, or evict the oldest idle connection of the client holding the most. Default auto: the descriptor limit (ulimit -n) minus descriptors open at start minus RESERVED_FDS, so a connection flood never takes the descriptors the applier needs. 0 = no cap.',
  }),
  reservedFds: withDefault('reservedFds', integer(0, 1_000_000), '512', {
    env: 'RESERVED_FDS',
    value: 'N',
    group: G.server,
    describe:
      'Descriptors MAX_CONNECTIONS=auto leaves to the replica, its WAL and journals, query workers, storage connections and the signature API.',
  }),
  v8BackgroundNiceness: withDefault('v8BackgroundNiceness', integer(0, 19), '10', {
    env: 'V8_BACKGROUND_NICENESS',
    value: 'N',
    group: G.server,
    describe:
      "Niceness of V8's background threads (garbage-collection helpers, background compilation; Linux, per thread). At normal priority they take the CPU from the API thread for milliseconds on machines with few cores; at 10 they run on what it leaves. 0 leaves them as they are.",
  }),
  v8PoolSize: withDefault('v8PoolSize', threads(64), 'auto', {
    env: 'V8_POOL_SIZE',
    value: 'N',
    group: G.server,
    describe:
      "V8's background threads (Node's --v8-pool-size: GC helpers, background compilation), for the synddb-validator binary: it relaunches itself once at start with this size (same process id; Node >= 22.15, not Windows) unless node's flags or NODE_OPTIONS set it. Default auto: cores - 1, from 1 to 4 (Node's own default is 4, which on 2 cores takes the CPU from the API thread). 0 = Node's default.",
  }),
  maxConnectionsPerClient: withDefault('maxConnectionsPerClient', integer(0, 1_000_000), '128', {
    env: 'MAX_CONNECTIONS_PER_CLIENT',
    value: 'N',
    group: G.server,
    describe:
      'Most connections one client address may hold on the main API; more are closed at once. Behind a proxy all its clients are one address: raise it (or 0 = no cap).',
  }),
  maxOutputPerClient: withDefault('maxOutputPerClient', byteSize(1024), '64MiB', {
    env: 'MAX_OUTPUT_PER_CLIENT',
    value: 'BYTES',
    group: G.server,
    describe:
      "Response bytes one client's connections may hold unread in this process; a query or JSON-RPC request without QUERY_MAX_BYTES of headroom gets 429 OUTPUT_BUSY. At least QUERY_MAX_BYTES.",
  }),
  maxOutputTotal: withDefault('maxOutputTotal', byteSize(1024), '256MiB', {
    env: 'MAX_OUTPUT_TOTAL',
    value: 'BYTES',
    group: G.server,
    describe: 'The same for all clients together. At least QUERY_MAX_BYTES.',
  }),
  idleTimeout: withDefault('idleTimeout', duration(), '30s', {
    env: 'IDLE_TIMEOUT',
    value: 'DURATION',
    group: G.server,
    describe:
      'A main-API connection that moves no byte either way for this long is closed (a client that never reads its response, half a request). Keep it above QUERY_TIMEOUT + MIN_SEQUENCE_MAX_WAIT. 0 = off.',
  }),

  // Read queries
  queryWorkers: withDefault('queryWorkers', integer(0, 64), '2', {
    env: 'QUERY_WORKERS',
    value: 'N',
    group: G.query,
    describe:
      'Worker processes running read queries (POST/GET /query, JSON-RPC synddb_query), each with its own read-only connection. 0 turns queries off (also off for :memory: replicas).',
  }),
  queryTimeout: withDefault('queryTimeout', duration(), '5s', {
    env: 'QUERY_TIMEOUT',
    value: 'DURATION',
    group: G.query,
    describe:
      'Time limit of a query (queue wait included); a statement still running is interrupted by killing its worker. Requests may ask for less (timeout_ms).',
  }),
  queryMaxRows: withDefault('queryMaxRows', integer(1, 10_000_000), '10000', {
    env: 'QUERY_MAX_ROWS',
    value: 'N',
    group: G.query,
    describe: 'Most rows in one result; more is an error (422 QUERY_ROW_LIMIT), not a truncation.',
  }),
  queryMaxBytes: withDefault('queryMaxBytes', byteSize(1024), '8MiB', {
    env: 'QUERY_MAX_BYTES',
    value: 'BYTES',
    group: G.query,
    describe:
      'Largest result (JSON bytes of the rows, at most 1GiB); more is 422 QUERY_SIZE_LIMIT.',
  }),
  minSequenceMaxWait: withDefault('minSequenceMaxWait', duration(), '10s', {
    env: 'MIN_SEQUENCE_MAX_WAIT',
    value: 'DURATION',
    group: G.query,
    describe:
      'Longest wait for a query min_sequence (or its timeout_ms if smaller); then 504 MIN_SEQUENCE_TIMEOUT.',
  }),
  queryMaxInFlightPerClient: withDefault('queryMaxInFlightPerClient', integer(0, 1_000_000), '32', {
    env: 'QUERY_MAX_IN_FLIGHT_PER_CLIENT',
    value: 'N',
    group: G.query,
    describe:
      'Queries one client address may have running, queued or waiting for min_sequence (a JSON-RPC batch member counts too); more get 429 QUERY_CLIENT_BUSY. 0 = no cap. One client may also occupy at most QUERY_WORKERS - 1 workers (at least 1).',
  }),
  queryInterruptFloor: withDefault('queryInterruptFloor', duration(), '1s', {
    env: 'QUERY_INTERRUPT_FLOOR',
    value: 'DURATION',
    group: G.query,
    describe:
      'A statement is interrupted (its worker killed and replaced) only after running this long, whatever timeout_ms asked; the request is still answered at its own deadline. Stops timeout_ms: 1 from forking a worker per request.',
  }),

  queryPointReads: withDefault('queryPointReads', boolean(), true, {
    env: 'QUERY_POINT_READS',
    group: G.query,
    describe:
      'Answer point queries (a statement a worker has answered once, whose compiled program reads at most one row by key) on the API thread, without a worker round trip. false = every query goes to a worker.',
  }),

  // Logging
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

  // Compatibility
  stateDbPath: optional('stateDbPath', text(), {
    env: 'STATE_DB_PATH',
    value: 'PATH',
    group: G.compat,
    describe: 'Ignored (warning): progress lives in the replica, atomic with the data.',
  }),
  pendingChangesetsDbPath: optional('pendingChangesetsDbPath', text(), {
    env: 'PENDING_CHANGESETS_DB_PATH',
    value: 'PATH',
    group: G.compat,
    describe: 'Ignored (warning): nothing is deferred; a schema mismatch halts.',
  }),
  otelEnabled: withDefault('otelEnabled', boolean(), false, {
    env: 'OTEL_ENABLED',
    group: G.compat,
    describe: 'Not supported yet: logs a warning when true.',
  }),
  gcpProjectId: optional('gcpProjectId', text(), {
    env: 'GCP_PROJECT_ID',
    value: 'ID',
    group: G.compat,
    describe: 'Accepted, unused (Cloud Logging trace correlation).',
  }),
  bridgeSigner: withDefault('bridgeSigner', boolean(), false, {
    env: 'BRIDGE_SIGNER',
    group: G.bridge,
    describe:
      "Bridge signer mode: sign every synced withdrawal that no withdrawal policy refuses (EIP-191 over the sequencer's message id) after its data commits, keep decisions and signatures in the replica, and serve them on BRIDGE_SIGNATURE_ENDPOINT. Needs BRIDGE_CHAIN_ID, and BRIDGE_CONTRACT_ADDRESS unless the chain id is 31337.",
  }),
  bridgeAddress: optional('bridgeAddress', evmAddress(), {
    env: 'BRIDGE_CONTRACT_ADDRESS',
    value: 'ADDRESS',
    group: G.bridge,
    describe: 'Bridge contract address (0x + 40 hex), reported by GET /info.',
  }),
  bridgeChainId: optional('bridgeChainId', u64(), {
    env: 'BRIDGE_CHAIN_ID',
    value: 'ID',
    group: G.bridge,
    describe: 'Chain id of the bridge contract, reported by GET /info.',
  }),
  bridgeSignatureEndpoint: withDefault(
    'bridgeSignatureEndpoint',
    bindAddress(parseBindAddress),
    '0.0.0.0:8081',
    {
      env: 'BRIDGE_SIGNATURE_ENDPOINT',
      value: 'ADDR',
      group: G.bridge,
      describe:
        'Signature API bind address (/health, /info, /pending, /signature/{id}, /signatures; /signatures/withdrawal/{id}, /signatures/pending, /signatures/refused, /signatures/state/{sequence}, /openapi.json).',
    },
  ),
  bridgeSignerKeyFile: optional('bridgeSignerKeyFile', text(), {
    env: 'BRIDGE_SIGNER_KEY_FILE',
    value: 'PATH',
    group: G.bridge,
    describe:
      'Signing key file (one line, 0x + 64 hex, mode 0600). Default: bridge-signer.key beside DATABASE_PATH, created on first start; the address is logged, to register in TeeKeyManager as a Validator key.',
  }),
  bridgeSignerKey: optional('bridgeSignerKey', text(), {
    env: 'BRIDGE_SIGNER_KEY',
    value: 'HEX',
    group: G.bridge,
    describe:
      'Signing key as 64 hex chars (0x optional), instead of a key file. Never logged; prefer the key file (environments leak).',
  }),
  stateAttestationInterval: withDefault(
    'stateAttestationInterval',
    integer(0, 1_000_000_000),
    '0',
    {
      env: 'STATE_ATTESTATION_INTERVAL',
      value: 'SEQUENCES',
      group: G.bridge,
      describe:
        "State attestations: keep the replica's state root (an LtHash16 of its content, maintained with every message) and sign an EIP-712 attestation of (sequence, state root, message hash) at every sequence divisible by this and at every withdrawal, served on /signatures/state/{sequence}. 0 turns them off (no root is kept). Costs CPU per changed row (see the README).",
    },
  ),
  withdrawalPolicyFile: optional('withdrawalPolicyFile', text(), {
    env: 'WITHDRAWAL_POLICY_FILE',
    value: 'PATH',
    group: G.policy,
    describe:
      'JSON file of withdrawal policies, read at start: {"max_withdrawal","recipient_daily_limit","global_daily_cap"} (decimal strings) and {"allow_recipients","deny_recipients"} (address arrays), all optional. A policy set here and by its flag is refused.',
  }),
  withdrawalMaxAmount: optional('withdrawalMaxAmount', u256(), {
    env: 'WITHDRAWAL_MAX_AMOUNT',
    value: 'AMOUNT',
    group: G.policy,
    describe: 'Refuse (never sign) a withdrawal whose amount is above this uint256.',
  }),
  withdrawalRecipientDailyLimit: optional('withdrawalRecipientDailyLimit', u256(), {
    env: 'WITHDRAWAL_RECIPIENT_DAILY_LIMIT',
    value: 'AMOUNT',
    group: G.policy,
    describe:
      "Refuse a withdrawal that would bring its recipient's accepted total for the day above this. The day is the UTC day of the message's sequencer timestamp and the total comes from the replica, so every validator and every restart decides the same.",
  }),
  withdrawalDailyCap: optional('withdrawalDailyCap', u256(), {
    env: 'WITHDRAWAL_DAILY_CAP',
    value: 'AMOUNT',
    group: G.policy,
    describe:
      'Refuse a withdrawal that would bring the accepted total of all withdrawals for the day (UTC day of the message timestamps) above this.',
  }),
  withdrawalAllowRecipients: optional('withdrawalAllowRecipients', addressList(), {
    env: 'WITHDRAWAL_ALLOW_RECIPIENTS',
    value: 'ADDRESSES',
    group: G.policy,
    describe: 'Comma-separated addresses: refuse withdrawals to any other recipient.',
  }),
  withdrawalDenyRecipients: optional('withdrawalDenyRecipients', addressList(), {
    env: 'WITHDRAWAL_DENY_RECIPIENTS',
    value: 'ADDRESSES',
    group: G.policy,
    describe: 'Comma-separated addresses: refuse withdrawals to these recipients.',
  }),
  bridgeRpcUrl: optional('bridgeRpcUrl', rpcUrl(), {
    env: 'BRIDGE_RPC_URL',
    value: 'URL',
    group: G.chain,
    describe:
      "JSON-RPC endpoint of the Bridge's chain. When set, the Bridge's MessageHandled events are followed and signed withdrawals are marked completed (they leave /pending, /signatures and /signatures/pending). Needs BRIDGE_CONTRACT_ADDRESS; the endpoint's chain id must be BRIDGE_CHAIN_ID.",
  }),
  bridgeConfirmations: withDefault('bridgeConfirmations', integer(0, 10_000), '12', {
    env: 'BRIDGE_CONFIRMATIONS',
    value: 'BLOCKS',
    group: G.chain,
    describe:
      'Blocks behind the head before an event counts (reorg safety): only blocks up to head minus this are read.',
  }),
  bridgeStartBlock: optional('bridgeStartBlock', u64(), {
    env: 'BRIDGE_START_BLOCK',
    value: 'BLOCK',
    group: G.chain,
    describe:
      "First block to read on the first start (e.g. the Bridge's deployment block). Default: the confirmed head at the first start. Afterwards the block cursor kept in the replica decides.",
  }),
  bridgePollInterval: withDefault('bridgePollInterval', duration(), '2s', {
    env: 'BRIDGE_POLL_INTERVAL',
    value: 'DURATION',
    group: G.chain,
    describe: 'Delay between polls of the chain (and after a failed one).',
  }),
  bridgeLogRange: withDefault('bridgeLogRange', integer(1, 1_000_000), '2000', {
    env: 'BRIDGE_LOG_RANGE',
    value: 'BLOCKS',
    group: G.chain,
    describe:
      'Most blocks per eth_getLogs request; halved automatically while the endpoint refuses a range.',
  }),
  enableKeyBootstrap: withDefault('enableKeyBootstrap', boolean(), false, {
    env: 'ENABLE_KEY_BOOTSTRAP',
    group: G.compat,
    describe: 'TEE key bootstrap: not available in this version; true is refused.',
  }),
  bootstrapRpcUrl: optional('bootstrapRpcUrl', text(), {
    env: 'BOOTSTRAP_RPC_URL',
    value: 'URL',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  bootstrapChainId: optional('bootstrapChainId', u64(), {
    env: 'BOOTSTRAP_CHAIN_ID',
    value: 'ID',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  relayerUrl: optional('relayerUrl', text(), {
    env: 'RELAYER_URL',
    value: 'URL',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  proofServiceUrl: optional('proofServiceUrl', text(), {
    env: 'PROOF_SERVICE_URL',
    value: 'URL',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  attestationAudience: optional('attestationAudience', text(), {
    env: 'ATTESTATION_AUDIENCE',
    value: 'AUD',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  imageSignature: optional('imageSignature', text(), {
    env: 'IMAGE_SIGNATURE',
    value: 'HEX',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  proofTimeout: withDefault('proofTimeout', duration(), '600s', {
    env: 'PROOF_TIMEOUT',
    value: 'DURATION',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
  bootstrapTimeout: withDefault('bootstrapTimeout', duration(), '900s', {
    env: 'BOOTSTRAP_TIMEOUT',
    value: 'DURATION',
    group: G.compat,
    describe: 'Key bootstrap setting (unused).',
  }),
};

export type ConfigKey = keyof typeof configShape;

/** The whole configuration, with the checks that involve several options. */
export const configSchema = z.object(configShape).superRefine((c, ctx) => {
  const need = (key: ConfigKey, present: unknown, why: string) => {
    if (present === undefined) ctx.addIssue({ code: 'custom', path: [key], message: why });
  };
  if (c.fetcherType === 'http')
    need('sequencerUrl', c.sequencerUrl, 'required when FETCHER_TYPE=http');
  if (c.fetcherType === 'gcs') need('gcsBucket', c.gcsBucket, 'required when FETCHER_TYPE=gcs');
  if (c.fetcherType === 'fs') need('storageDir', c.storageDir, 'required when FETCHER_TYPE=fs');
  if (
    c.fetcherType === 'auto' &&
    c.gcsBucket === undefined &&
    c.storageDir === undefined &&
    c.sequencerUrl === undefined
  ) {
    need(
      'sequencerUrl',
      undefined,
      'set SEQUENCER_URL, GCS_BUCKET or STORAGE_DIR (no storage configured)',
    );
  }
  if (c.sequencerPubkey === undefined && c.sequencerUrl === undefined) {
    need(
      'sequencerPubkey',
      undefined,
      'required when SEQUENCER_URL is not set (the key cannot be discovered from /status)',
    );
  }
  if (c.queryMaxBytes > 1024 ** 3) {
    ctx.addIssue({ code: 'custom', path: ['queryMaxBytes'], message: 'must be at most 1GiB' });
  }
  for (const key of ['maxOutputPerClient', 'maxOutputTotal'] as const) {
    if (c.queryWorkers > 0 && c[key] < c.queryMaxBytes) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: 'must be at least QUERY_MAX_BYTES (one query result)',
      });
    }
  }
  if (c.bridgeSigner) {
    if (c.bridgeChainId === undefined) {
      need('bridgeChainId', undefined, 'required in bridge signer mode (BRIDGE_SIGNER=true)');
    } else if (c.bridgeAddress === undefined && c.bridgeChainId !== 31337n) {
      need(
        'bridgeAddress',
        undefined,
        'required in bridge signer mode unless BRIDGE_CHAIN_ID is 31337 (local devnet)',
      );
    }
    if (c.bridgeRpcUrl !== undefined && c.bridgeAddress === undefined) {
      need('bridgeAddress', undefined, 'required to follow the Bridge (BRIDGE_RPC_URL is set)');
    }
    if (c.bridgeSignerKey !== undefined && c.bridgeSignerKeyFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['bridgeSignerKey'],
        message: 'set BRIDGE_SIGNER_KEY or BRIDGE_SIGNER_KEY_FILE, not both',
      });
    }
  }
  if (!c.bridgeSigner && c.stateAttestationInterval > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['stateAttestationInterval'],
      message: 'only used in bridge signer mode: set BRIDGE_SIGNER=true, or 0',
    });
  }
  if (!c.bridgeSigner) {
    const bridgeOnly: ConfigKey[] = [
      'withdrawalPolicyFile',
      'withdrawalMaxAmount',
      'withdrawalRecipientDailyLimit',
      'withdrawalDailyCap',
      'withdrawalAllowRecipients',
      'withdrawalDenyRecipients',
      'bridgeRpcUrl',
      'bridgeStartBlock',
    ];
    for (const key of bridgeOnly) {
      if (c[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'only used in bridge signer mode: set BRIDGE_SIGNER=true, or remove it',
        });
      }
    }
  }
  if (c.enableKeyBootstrap) {
    ctx.addIssue({
      code: 'custom',
      path: ['enableKeyBootstrap'],
      message: 'TEE key bootstrap is not available in this version of synddb-validator',
    });
  }
});

/** Parsed configuration (durations in ms, sizes in bytes, the pubkey as bytes). */
export type ValidatorConfig = z.output<typeof configSchema>;
/** What `startValidator` accepts: strings as on the command line, or numbers/booleans/bigints. */
export type ValidatorConfigInput = z.input<typeof configSchema>;
