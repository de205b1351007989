import { join } from 'node:path';
import { type DevnetSequencer, type SampleApp, startDevnetWithApp } from '@synddb/devnet';
import { createHttpFetcher } from '@synddb/fetchers';
import { createSyncEngine, type SyncEngine, type SyncEngineOptions } from '@synddb/sync';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { parseSequencerPubkey } from '@synddb/verifier';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { WebSocket } from 'ws';

export interface Devnet {
  sequencer: DevnetSequencer;
  app: SampleApp;
  dir: string;
  url: string;
}

/** The devnet sequencer on 127.0.0.1 and the sample app (its schema snapshot already sent). */
export async function startDevnet(): Promise<Devnet> {
  const dir = tempDir('synddb-http-api-test-');
  const devnet = await startDevnetWithApp({ directory: dir, onCleanup });
  return { ...devnet, dir };
}

export interface Replica {
  engine: SyncEngine;
  db: Database;
  /** Read-only connection for the subscriptions' schema lookups. */
  readDb: Database;
}

/** A sync engine (not started) on a fresh replica file syncing from the devnet. */
export function createReplica(devnet: Devnet, options: Partial<SyncEngineOptions> = {}): Replica {
  const path = join(devnet.dir, 'replica.db');
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  const readDb = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  const engine = createSyncEngine({
    db,
    databasePath: path,
    fetcher: createHttpFetcher({ baseUrl: devnet.url, maxRetries: 0, timeoutMs: 5000 }),
    sequencerPubkeys: [parseSequencerPubkey(devnet.sequencer.pubkeyHex)],
    syncIntervalMs: 20,
    gapRetryDelayMs: 20,
    gapRetryCount: 2,
    indexRefreshIntervalMs: 100,
    ...options,
  });
  onCleanup(async () => {
    await engine.stop().catch(() => {});
    readDb.close();
    db.close();
  });
  return { engine, db, readDb };
}

/** The last sequence the devnet has published (after a flush). */
export function publishedHead(devnet: Devnet): bigint {
  devnet.sequencer.flush();
  const latest = devnet.sequencer.storage.latest();
  if (latest === null) throw new Error('nothing published');
  return BigInt(latest);
}

export type Frame = Record<string, unknown>;

/** A `ws` client that records every frame it receives, parsed. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('error', () => {});
  }

  static async connect(url: string): Promise<TestClient> {
    const ws = new WebSocket(url);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    onCleanup(() => ws.terminate());
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends `message` and waits for the reply frame carrying its `id`. */
  async request(message: Frame & { id: string | number }): Promise<Frame> {
    this.send(message);
    return this.next((f) => f.id === message.id, `reply to ${JSON.stringify(message)}`);
  }

  async next(predicate: (frame: Frame) => boolean, what = 'frame'): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(() => {
      found = this.frames.find(predicate);
      return found !== undefined;
    }, what);
    return found!;
  }

  /** Data frames of `channel` (data frames carry `sequence`; control frames never do). */
  on(channel: 'sequences' | 'rows'): Frame[] {
    return this.frames.filter((f) => f.channel === channel && 'sequence' in f);
  }
}
