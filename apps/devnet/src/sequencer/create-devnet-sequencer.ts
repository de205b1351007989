import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { formatBatchFilename, hexToBytes } from '@synddb/protocol';
import { createSequencerSigner, type SequencerSigner } from '@synddb/verifier';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { DevnetConfigError } from '../errors';
import { hex0x } from '../hex0x';
import { ingestionRoutes } from '../http/ingestion-routes';
import { jsonResponse } from '../http/json-text';
import { statusRoutes } from '../http/status-routes';
import { storageRoutes } from '../http/storage-routes';
import { BatchStore } from './batch-store';
import { Batcher, type BatcherStats, type FlushResult } from './batcher';
import { GcsDirectoryMirror } from './gcs-directory-mirror';
import { MessageSequencer } from './message-sequencer';

/** Default request body limit: 64 MiB (Rust's axum default is 2 MiB, too small for snapshots). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface DevnetSequencerOptions {
  /** 32-byte secp256k1 secret (bytes or 64 hex, optional 0x). Default: fresh random key, as Rust. */
  privateKey?: Uint8Array | string;
  /** Default 50 (Rust `BATCH_MAX_MESSAGES`). */
  batchMaxMessages?: number;
  /** Sum of COSE message sizes that triggers a flush. Default 1 MiB (Rust `BATCH_MAX_BYTES`). */
  batchMaxBytes?: number;
  /** Max age of the oldest pending message before a flush. Default 5000 (`BATCH_FLUSH_INTERVAL`). */
  flushIntervalMs?: number;
  /** Largest accepted ingestion body. Default `DEFAULT_MAX_BODY_BYTES`. */
  maxBodyBytes?: number;
  storage?: {
    /** Also write every served batch as `{gcsDirectory}/{prefix}/batches/{start:012}_{end:012}.cbor.zst`. */
    gcsDirectory?: string;
    /** Object prefix. Default `sequencer` (Rust `GCS_PREFIX`). */
    prefix?: string;
  };
  /** Unix milliseconds; timestamps are `floor(clock() / 1000)`. Default `Date.now`. */
  clock?: () => number;
  /** Background failures (timer flushes, directory writes). Default: `console.error`. */
  onError?: (error: unknown) => void;
}

export interface StartOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port; read `url` or the returned port). */
  port?: number;
}

export interface DevnetSequencer {
  /** The hono app with every route, for `app.request(...)` without a socket. */
  readonly app: Hono;
  readonly signer: SequencerSigner;
  /** `0x` + 128 hex, as `/status.signer_pubkey`. */
  readonly pubkeyHex: string;
  /** The pipeline; its `submit*` methods sequence requests in-process (no HTTP). */
  readonly sequencer: MessageSequencer;
  /** Batch storage with fault-injection hooks (`tamper`, `replace`, `hide`, `inject`, `restore`). */
  readonly storage: BatchStore;
  /** The GCS-layout batches directory, when `storage.gcsDirectory` is set. */
  readonly batchesDirectory: string | undefined;
  /** Base URL once started, e.g. `http://127.0.0.1:8433`. */
  readonly url: string | undefined;
  /** Publishes pending messages now (same as `POST /batch/flush`). */
  flush(): FlushResult | null;
  stats(): BatcherStats;
  start(options?: StartOptions): Promise<{ url: string; host: string; port: number }>;
  /** Stops sequencing, flushes pending messages, closes the server. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A local SyndDB sequencer: the ingestion API, batcher and local storage API of the Rust sequencer
 * (docs/protocol.md#sequencer-storage-api, docs/protocol.md#sequencer-ingestion-api), in memory,
 * optionally mirrored to a GCS-layout directory.
 */
export function createDevnetSequencer(options: DevnetSequencerOptions = {}): DevnetSequencer {
  const maxMessages = positiveInteger('batchMaxMessages', options.batchMaxMessages ?? 50);
  const maxBytes = positiveInteger('batchMaxBytes', options.batchMaxBytes ?? 1024 * 1024);
  const flushIntervalMs = positiveInteger('flushIntervalMs', options.flushIntervalMs ?? 5000);
  const maxBodyBytes = positiveInteger(
    'maxBodyBytes',
    options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  );
  const prefix = options.storage?.prefix ?? 'sequencer';
  if (prefix.length === 0 || prefix.startsWith('/') || prefix.split('/').includes('..')) {
    throw new DevnetConfigError(`storage prefix ${JSON.stringify(prefix)} must be a relative path`);
  }
  const now = options.clock ?? Date.now;
  const onError = options.onError ?? ((error: unknown) => console.error('[devnet]', error));

  const secretKey = parseSecretKey(options.privateKey);
  const signer = createSequencerSigner(secretKey);
  const mirror =
    options.storage?.gcsDirectory === undefined
      ? undefined
      : new GcsDirectoryMirror(options.storage.gcsDirectory, prefix);
  let mirrorError: unknown;
  const storage = new BatchStore(mirror, (error) => {
    mirrorError = error;
    onError(error);
  });
  const batcher = new Batcher({
    maxMessages,
    maxBytes,
    flushIntervalMs,
    signer,
    now,
    store: storage,
    // The GCS object name of the batch, whether or not a directory mirror is configured.
    referenceOf: (start, end) => `${prefix}/batches/${formatBatchFilename(start, end)}`,
    onError,
  });
  const sequencer = new MessageSequencer({ signer, secretKey, now, batcher });
  let stopped = false;

  const app = new Hono();
  app.use(requestId({ headerName: 'x-request-id' }));
  app.route('/', ingestionRoutes(sequencer, { maxBodyBytes }));
  app.route(
    '/',
    statusRoutes({
      sequencer,
      batcher,
      signer,
      isStopped: () => stopped,
      checks: () =>
        mirror === undefined
          ? []
          : [
              mirrorError === undefined
                ? { name: 'gcs_directory', status: 'ok' }
                : { name: 'gcs_directory', status: 'error', message: String(mirrorError) },
            ],
    }),
  );
  app.route('/storage', storageRoutes(storage));
  app.notFound(() => new Response(null, { status: 404 }));
  app.onError((error) =>
    jsonResponse({ error: error instanceof Error ? error.message : String(error) }, 500),
  );

  let server: ServerType | undefined;
  let url: string | undefined;

  return {
    app,
    signer,
    pubkeyHex: hex0x(signer.pubkey),
    sequencer,
    storage,
    batchesDirectory: mirror?.batchesDirectory,
    get url() {
      return url;
    },
    flush: () => batcher.flush(),
    stats: () => batcher.stats(),
    async start(startOptions = {}) {
      if (server !== undefined) throw new DevnetConfigError('the sequencer is already started');
      const host = startOptions.host ?? '127.0.0.1';
      const port = startOptions.port ?? 0;
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new DevnetConfigError(`port ${port} is not in 0..65535`);
      }
      let listening: ServerType | undefined;
      const info = await new Promise<AddressInfo>((resolve, reject) => {
        listening = serve({ fetch: app.fetch, hostname: host, port }, resolve);
        listening.once('error', reject);
      }).catch((error: unknown) => {
        listening?.close();
        throw new DevnetConfigError(`cannot listen on ${host}:${port}`, String(error));
      });
      server = listening;
      const urlHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      url = `http://${urlHost}:${info.port}`;
      return { url, host: info.address, port: info.port };
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        sequencer.stop();
        batcher.stop();
      }
      const s = server;
      server = undefined;
      if (s !== undefined) {
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          if ('closeAllConnections' in s) s.closeAllConnections();
        });
      }
    },
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new DevnetConfigError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function parseSecretKey(input: Uint8Array | string | undefined): Uint8Array {
  if (input === undefined) return secp256k1.utils.randomSecretKey();
  if (typeof input !== 'string') return input;
  const hex = input.startsWith('0x') || input.startsWith('0X') ? input.slice(2) : input;
  const bytes = hex.length === 64 ? hexToBytes(hex) : null;
  if (bytes === null) throw new DevnetConfigError('privateKey must be 64 hex characters');
  return bytes;
}
