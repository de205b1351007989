/**
 * The Rust reference's e2e acceptance cases (docs/compatibility.md#reference-e2e-cases), in their
 * order, against the devnet sequencer with two validators discovering the key from /status — but
 * asserting what the reference never checks: the replicated *content*, row by row, on both
 * validators.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createLogger } from '@synddb/app-kit';
import {
  captureChangeset,
  createSequencerClient,
  type DevnetSequencer,
  readDatabaseImage,
  startDevnetWithApp,
} from '@synddb/devnet';
import { decodeBatchBlob } from '@synddb/protocol';
import { onCleanup, tempDir, waitFor } from '@synddb/test-support';
import type { Database } from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { startValidator, type ValidatorHandle } from '../src/start-validator';

const MAX_SYNC_DIFF = 0; // the reference allows 5; here both validators must be exactly at head

let dir: string;
let sequencer: DevnetSequencer;
let url: string;
let v1: ValidatorHandle;
let v2: ValidatorHandle;
const client = () => createSequencerClient(url);

async function json<T>(path: string): Promise<T> {
  const response = await fetch(path);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}
/** `message_type` as serde writes it: `{"type": "snapshot"}` (or a bare string). */
const typeName = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && 'type' in value ? value.type : value;
const current = async () =>
  (await json<{ current_sequence: number }>(`${url}/status`)).current_sequence;
const lastOf = async (v: ValidatorHandle) =>
  (await json<{ last_sequence: number | null }>(`${v.url}/status`)).last_sequence ?? 0;

async function bothAt(sequence: number): Promise<void> {
  sequencer.flush();
  for (const v of [v1, v2]) {
    await waitFor(async () => (await lastOf(v)) >= sequence, `validator at ${sequence}`);
  }
}

/** Rows of a table read through the validator's read-only connection. */
function rows(v: ValidatorHandle, sql: string): unknown[] {
  return (v.readDb as Database).prepare(sql).raw(true).safeIntegers(true).all();
}
function tables(v: ValidatorHandle): string[] {
  return (v.readDb as Database)
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_synddb\\_%' ESCAPE '\\' ORDER BY name",
    )
    .pluck()
    .all() as string[];
}

function sqliteImage(setup: (db: DatabaseSync) => void): Uint8Array {
  const db = new DatabaseSync(':memory:');
  setup(db);
  const image = readDatabaseImage(db);
  db.close();
  return image;
}

async function snapshot(messageId: string, clientSequence: number, image: Uint8Array) {
  return client().postSnapshot({
    snapshot: {
      data: image,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      sequence: BigInt(clientSequence),
    },
    messageId,
  });
}

// Everything started here is cleaned up after the file (registered outside a test).
beforeAll(async () => {
  dir = tempDir('reference-e2e-');
  // the customer app: real changesets pushed to the sequencer
  const devnet = await startDevnetWithApp({
    directory: dir,
    onCleanup,
    sequencer: { flushIntervalMs: 100 },
    idSeed: 3,
  });
  ({ sequencer, url } = devnet);
  const { app } = devnet;
  await app.runWorkload({ transactions: 150, seed: 5, snapshotEvery: 60 });

  const quiet = createLogger({ json: true, level: 'error', write: () => {} });
  const start = (name: string) =>
    startValidator(
      {
        sequencerUrl: url, // no SEQUENCER_PUBKEY: discovered from /status, as in the harness
        databasePath: join(dir, `${name}.db`),
        bindAddress: '127.0.0.1:0',
        syncInterval: '50ms',
        batchIndexRefreshInterval: '200ms',
      },
      { logger: quiet },
    );
  v1 = await start('validator');
  v2 = await start('validator2');
  onCleanup(() => v1.stop());
  onCleanup(() => v2.stop());
  const head = (await current()) - 1;
  await bothAt(head);
  // before the cases: both replicas equal the customer app's database
  const source = new DatabaseSync(app.dbPath, { readOnly: true });
  for (const table of ['accounts', 'transfers', 'account_labels', 'withdrawals']) {
    const query = source.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`);
    query.setReadBigInts(true);
    query.setReturnArrays(true);
    const expected = (query.all() as unknown as unknown[][]).map((r) =>
      r.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v)),
    );
    expect(rows(v1, `SELECT * FROM ${table} ORDER BY 1, 2`)).toEqual(expected);
    expect(rows(v2, `SELECT * FROM ${table} ORDER BY 1, 2`)).toEqual(expected);
  }
  source.close();
}, 60_000);

describe('reference e2e cases (docs/compatibility.md#reference-e2e-cases), with content checks', {
  timeout: 30_000,
}, () => {
  it('1 sequencer_received', async () => {
    expect(await current()).toBeGreaterThanOrEqual(1);
  });

  it('2/3/5/6 validators synced and consistent (exactly at head)', async () => {
    const cur = await current();
    const [a, b] = [await lastOf(v1), await lastOf(v2)];
    expect(a).toBeGreaterThanOrEqual(1);
    expect(Math.abs(cur - 1 - a)).toBeLessThanOrEqual(MAX_SYNC_DIFF);
    expect(Math.abs(cur - 1 - b)).toBeLessThanOrEqual(MAX_SYNC_DIFF);
    expect(Math.abs(a - b)).toBe(0);
  });

  it('4 snapshot_sequenced: a one-table snapshot replaces both replicas', async () => {
    const before = await current();
    const receipt = await snapshot(
      'e2e-snapshot-1',
      999,
      sqliteImage((db) => {
        db.exec(
          "CREATE TABLE test (id INTEGER PRIMARY KEY, value TEXT); INSERT INTO test VALUES (1, 'hello')",
        );
      }),
    );
    expect(receipt.signature).toMatch(/^0x/);
    expect(receipt.message_hash).toMatch(/^0x/);
    expect(await current()).toBeGreaterThan(before);
    await bothAt(receipt.sequence);
    for (const v of [v1, v2]) {
      expect(tables(v)).toEqual(['test']);
      expect(rows(v, 'SELECT * FROM test')).toEqual([[1n, 'hello']]);
      expect(v.status().halt).toBeNull();
    }
  });

  it('7/14/15 storage_fetch, cose_protected_header, cose_signature_format', async () => {
    const latest = await json<{ sequence: number | null }>(`${url}/storage/latest`);
    expect(latest.sequence).not.toBeNull();
    const m = await json<Record<string, unknown>>(`${url}/storage/messages/0`);
    expect(m.sequence).toBe(0);
    expect(['changeset', 'snapshot']).toContain(typeName(m.message_type));
    for (const k of ['signer', 'signature', 'message_hash']) expect(String(m[k])).toMatch(/^0x/);
    expect(String(m.cose_protected_header).length).toBeGreaterThan(2);
    expect(String(m.signature)).toMatch(/^0x[0-9a-f]{128}$/);
  });

  it('9/10/16 storage_batch_list, storage_batch_fetch, cbor_batch_fetch', async () => {
    const list = await json<{ start_sequence: number; end_sequence: number }[]>(
      `${url}/storage/batches`,
    );
    expect(list.length).toBeGreaterThan(0);
    for (let i = 0; i < list.length; i++) {
      expect(list[i]!.end_sequence).toBeGreaterThanOrEqual(list[i]!.start_sequence);
      if (i > 0) expect(list[i]!.start_sequence).toBeGreaterThan(list[i - 1]!.start_sequence);
    }
    const first = list[0]!;
    const blob = new Uint8Array(
      await (await fetch(`${url}/storage/batches/${first.start_sequence}`)).arrayBuffer(),
    );
    expect([...blob.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    const batch = decodeBatchBlob(blob);
    expect(Number(batch.startSequence)).toBe(first.start_sequence);
    expect(batch.parsedMessages).toHaveLength(first.end_sequence - first.start_sequence + 1);
    for (const [i, m] of batch.parsedMessages.entries()) {
      expect(Number(m.header.sequence)).toBe(first.start_sequence + i);
    }
  });

  it('11/12 storage_message_not_found, storage_batch_not_found', async () => {
    const latest = (await json<{ sequence: number }>(`${url}/storage/latest`)).sequence;
    expect((await fetch(`${url}/storage/messages/${latest + 1_000_000}`)).status).toBe(404);
    expect((await fetch(`${url}/storage/batches/${latest + 1_000_000}`)).status).toBe(404);
  });

  it('8/17/18 real_sqlite_snapshot and validator_processes_sqlite_snapshot', async () => {
    const image = sqliteImage((db) => {
      db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL, status TEXT);
        INSERT INTO users VALUES (1, 'Alice', 'alice@example.com'), (2, 'Bob', 'bob@example.com');
        INSERT INTO orders VALUES (1, 1, 99.5, 'paid'), (2, 2, 12.25, 'pending');`);
    });
    expect(Buffer.from(image.subarray(0, 16)).toString('latin1')).toBe('SQLite format 3\0');
    const before = await current();
    const stored = await snapshot('e2e-real-sqlite-snapshot', 1, image);
    expect(stored.sequence).toBeGreaterThanOrEqual(before);
    const receipt = await snapshot('e2e-validator-sqlite-snapshot', 2, image);
    sequencer.flush();
    const m = await json<{ message_type: unknown; sequence: number }>(
      `${url}/storage/messages/${receipt.sequence}`,
    );
    expect({ type: typeName(m.message_type), sequence: m.sequence }).toEqual({
      type: 'snapshot',
      sequence: receipt.sequence,
    });
    await bothAt(receipt.sequence);
    for (const v of [v1, v2]) {
      expect(tables(v)).toEqual(['orders', 'users']);
      expect(rows(v, 'SELECT * FROM users ORDER BY id')).toEqual([
        [1n, 'Alice', 'alice@example.com'],
        [2n, 'Bob', 'bob@example.com'],
      ]);
      expect(rows(v, 'SELECT * FROM orders ORDER BY id')).toEqual([
        [1n, 1n, 99.5, 'paid'],
        [2n, 2n, 12.25, 'pending'],
      ]);
    }
  });

  it('19 large_sqlite_snapshot: 1000 rows of 100-byte blobs arrive intact', async () => {
    const image = sqliteImage((db) => {
      db.exec('CREATE TABLE data (id INTEGER PRIMARY KEY, key TEXT, value BLOB)');
      const insert = db.prepare('INSERT INTO data VALUES (?, ?, ?)');
      for (let i = 0; i < 1000; i++) insert.run(i, `key-${i}`, Buffer.alloc(100, i % 251));
    });
    expect(image.length).toBeGreaterThan(50_000);
    const receipt = await snapshot('e2e-large-sqlite-snapshot', 3, image);
    await bothAt(receipt.sequence);
    for (const v of [v1, v2]) {
      expect(rows(v, 'SELECT count(*), sum(length(value)) FROM data')).toEqual([[1000n, 100_000n]]);
      expect(
        rows(v, 'SELECT id, key, value FROM data WHERE id IN (0, 250, 999) ORDER BY id'),
      ).toEqual([0, 250, 999].map((i) => [BigInt(i), `key-${i}`, Buffer.alloc(100, i % 251)]));
    }
  });

  it('20 snapshot_then_changesets: accounts = {Alice 900, Bob 600, Charlie 250}', async () => {
    const app = new DatabaseSync(':memory:');
    app.exec(
      "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER); INSERT INTO accounts VALUES (1, 'Alice', 1000), (2, 'Bob', 500)",
    );
    const image = readDatabaseImage(app);
    const s = await snapshot('e2e-snapshot-then-changesets', 100, image);
    const one = captureChangeset(app, () => {
      app.exec(
        "UPDATE accounts SET balance = 900 WHERE name = 'Alice'; UPDATE accounts SET balance = 600 WHERE name = 'Bob'",
      );
    }).changeset;
    const two = captureChangeset(app, () => {
      app.exec("INSERT INTO accounts VALUES (3, 'Charlie', 250)");
    }).changeset;
    app.close();
    const now = BigInt(Math.floor(Date.now() / 1000));
    const c1 = await client().postChangesets({
      batchId: 'e2e-changeset-batch-1',
      changesets: [{ data: one, sequence: 101n, timestamp: now }],
    });
    const c2 = await client().postChangesets({
      batchId: 'e2e-changeset-batch-2',
      changesets: [{ data: two, sequence: 102n, timestamp: now }],
    });
    sequencer.flush();
    const types = await Promise.all(
      [s, c1, c2].map(async (r) =>
        typeName(
          (await json<{ message_type: unknown }>(`${url}/storage/messages/${r.sequence}`))
            .message_type,
        ),
      ),
    );
    expect(types).toEqual(['snapshot', 'changeset', 'changeset']);
    await bothAt(c2.sequence);
    for (const v of [v1, v2]) {
      expect(rows(v, 'SELECT name, balance FROM accounts ORDER BY id')).toEqual([
        ['Alice', 900n],
        ['Bob', 600n],
        ['Charlie', 250n],
      ]);
      expect(v.status()).toMatchObject({ lastSequence: BigInt(c2.sequence), halt: null });
    }
  });
});
