import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import {
  type DevnetSequencer,
  type DevnetSequencerOptions,
  type SampleApp,
  startDevnetWithApp,
  type WorkloadOptions,
} from '@synddb/devnet';
import { createHttpFetcher, type StorageFetcher } from '@synddb/fetchers';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { parseSequencerPubkey } from '@synddb/verifier';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { expect } from 'vitest';
import { createSyncEngine, type SyncEngine, type SyncEngineOptions } from '../src/index';

export interface Devnet {
  sequencer: DevnetSequencer;
  url: string;
  app: SampleApp;
  pubkey: Uint8Array;
  dir: string;
}

/** A devnet sequencer on 127.0.0.1 and the sample app writing through it (schema snapshot sent). */
export async function startDevnet(options: DevnetSequencerOptions = {}): Promise<Devnet> {
  const dir = tempDir('synddb-sync-test-');
  const devnet = await startDevnetWithApp({ directory: dir, onCleanup, sequencer: options });
  return { ...devnet, pubkey: parseSequencerPubkey(devnet.sequencer.pubkeyHex), dir };
}

export function openReplica(path: string): Database {
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  return db;
}

export interface TestEngine {
  engine: SyncEngine;
  db: Database;
  path: string;
}

/** A sync engine on a fresh (or existing) replica file, stopped and closed after the test. */
export function startEngine(
  options: Partial<SyncEngineOptions> & {
    fetcher?: StorageFetcher;
    url?: string;
    pubkey: Uint8Array;
  },
  path = join(tempDir('synddb-sync-test-'), 'replica.db'),
): TestEngine {
  const db = openReplica(path);
  const fetcher =
    options.fetcher ??
    createHttpFetcher({ baseUrl: options.url ?? '', maxRetries: 0, timeoutMs: 5000 });
  const engine = createSyncEngine({
    db,
    databasePath: path,
    fetcher,
    sequencerPubkeys: [options.pubkey],
    syncIntervalMs: 20,
    gapRetryDelayMs: 20,
    gapRetryCount: 2,
    indexRefreshIntervalMs: 200,
    ...options,
  });
  engine.on('error', () => {});
  engine.start();
  onCleanup(async () => {
    await engine.stop().catch(() => {});
    if (db.open) db.close();
  });
  return { engine, db, path };
}

/** Waits until the engine has applied `sequence` (and reports caught up when `caughtUp`). */
export async function waitForSequence(
  engine: SyncEngine,
  sequence: bigint,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(() => (engine.status().lastSequence ?? -1n) >= sequence, {
    timeoutMs,
    what: () => `sequence ${sequence} (status ${statusText(engine)})`,
  });
}

/** The engine's status as JSON (bigints as strings), for failure messages. */
export function statusText(engine: SyncEngine): string {
  return JSON.stringify(engine.status(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A devnet whose sample app has run `workload`, all of it published: the devnet and its head. */
export async function devnetWithWorkload(
  workload: WorkloadOptions,
  sequencer: DevnetSequencerOptions = {},
): Promise<{ devnet: Devnet; head: bigint }> {
  const devnet = await startDevnet(sequencer);
  await devnet.app.runWorkload(workload);
  return { devnet, head: publishedHead(devnet) };
}

/**
 * Syncs a fresh replica from the devnet's HTTP API (engine `options` on top of the test
 * defaults) up to `head`, and checks it equals the source row by row.
 */
export async function expectReplicates(
  devnet: Devnet,
  head: bigint,
  options: Partial<SyncEngineOptions> = {},
): Promise<TestEngine> {
  const replica = startEngine({ url: devnet.url, pubkey: devnet.pubkey, ...options });
  await waitForSequence(replica.engine, head);
  expect(dumpReplica(replica.db)).toEqual(dumpSource(devnet.app.db));
  return replica;
}

/** The last sequence the devnet has published (after a flush). */
export function publishedHead(devnet: Devnet): bigint {
  devnet.sequencer.flush();
  const latest = devnet.sequencer.storage.latest();
  if (latest === null) throw new Error('nothing published');
  return BigInt(latest);
}

type Row = unknown[];
export type TableDump = Record<string, Row[]>;

function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return `x'${Buffer.from(value).toString('hex')}'`;
  if (typeof value === 'number' && Object.is(value, -0)) return '-0.0';
  return value;
}

function userTables(names: string[]): string[] {
  return names
    .filter((n) => !n.startsWith('sqlite_') && !n.toLowerCase().startsWith('_synddb_'))
    .sort();
}

/** Every user table's rows in a canonical order, read with better-sqlite3 (integers as bigint). */
export function dumpReplica(db: Database): TableDump {
  const names = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
    .pluck()
    .all() as string[];
  const dump: TableDump = {};
  for (const name of userTables(names)) {
    const rows = db.prepare(`SELECT * FROM "${name}"`).raw(true).safeIntegers(true).all() as Row[];
    dump[name] = sortRows(rows.map((r) => r.map(normalize)));
  }
  return dump;
}

/** Same dump of a node:sqlite database (the source app's file). */
export function dumpSource(db: DatabaseSync): TableDump {
  const names = (
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]
  ).map((r) => r.name);
  const dump: TableDump = {};
  for (const name of userTables(names)) {
    const statement = db.prepare(`SELECT * FROM "${name}"`);
    statement.setReadBigInts(true);
    statement.setReturnArrays(true);
    const rows = statement.all() as unknown as Row[];
    dump[name] = sortRows(rows.map((r) => r.map(normalize)));
  }
  return dump;
}

/** Opens a node:sqlite file read-only, dumps it, closes it. Never use on a better-sqlite3 file. */
export function dumpSourceFile(path: string): TableDump {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return dumpSource(db);
  } finally {
    db.close();
  }
}

function sortRows(rows: Row[]): Row[] {
  const key = (r: Row) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  return rows
    .map((r) => [key(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, r]) => r);
}
