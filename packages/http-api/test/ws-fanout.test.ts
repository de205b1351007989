/**
 * Fan-out of commits to many WebSocket subscribers (issue 13, "hold every WebSocket slot"): a
 * real server and `ws` clients, a stand-in engine emitting real changesets (node:sqlite
 * sessions), and the server's socket writes counted (every upgraded socket's `write`).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { MessageType } from '@synddb/protocol';
import type { AppliedMessage } from '@synddb/sync';
import { onCleanup, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import {
  type AttachSubscriptionsOptions,
  attachSubscriptions,
  createValidatorApi,
  createValidatorMetrics,
  rowChanges,
  serveValidatorApi,
  type ValidatorMetrics,
} from '../src/index';
import { type Frame, TestClient } from './support';
import { testSyncStatus } from './sync-status';

const SCHEMA = `
  CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
  CREATE TABLE u (id INTEGER PRIMARY KEY, w TEXT);
`;

/** Commits of real changesets; counts the row changes it made. */
class Source {
  readonly db = new DatabaseSync(':memory:');
  #nextId = 1;
  #nextSequence = 0n;
  rowChanges = 0;

  constructor() {
    this.db.exec(SCHEMA);
  }

  /** `messages` changeset messages of `rows` inserts each (every 5th into `u`), values `size` long. */
  commit(messages: number, rows: number, size = 8): AppliedMessage[] {
    return Array.from({ length: messages }, () => {
      const session = this.db.createSession();
      for (let i = 0; i < rows; i++) {
        const id = this.#nextId++;
        const table = i % 5 === 0 ? 'u' : 't';
        this.db.prepare(`INSERT INTO ${table} VALUES (?, ?)`).run(id, `${id}`.padEnd(size, '.'));
      }
      const changeset = session.changeset();
      session.close();
      this.rowChanges += [...rowChanges(changeset, { columns: () => ['id', 'v'] })].length;
      const sequence = this.#nextSequence++;
      return {
        sequence,
        timestamp: 1_700_000_000n + sequence,
        messageType: MessageType.Changeset,
        changesets: [changeset],
      };
    });
  }
}

async function metric(metrics: ValidatorMetrics, name: string, labels: Record<string, string>) {
  const data = await metrics.registry.getSingleMetric(name)!.get();
  return (
    data.values.find((v) => Object.entries(labels).every(([k, w]) => String(v.labels[k]) === w))
      ?.value ?? 0
  );
}

/** The server with subscriptions; `writes` lists what was written to each accepted socket. */
async function serve(options: Partial<AttachSubscriptionsOptions> = {}) {
  const engine = new EventEmitter();
  const metrics = createValidatorMetrics();
  const app = createValidatorApi({ status: () => testSyncStatus({ state: 'caught_up' }), metrics });
  const server = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  const writes = new Map<Socket, unknown[]>();
  server.server.on('connection', (socket: Socket) => {
    const list: unknown[] = [];
    writes.set(socket, list);
    const write = socket.write as (...args: unknown[]) => boolean;
    socket.write = function (this: Socket, ...args: unknown[]) {
      list.push(args[0]);
      return write.apply(this, args);
    } as Socket['write'];
  });
  const replica = new DatabaseSync(':memory:');
  replica.exec(SCHEMA);
  const subscriptions = attachSubscriptions(server.server, {
    engine,
    metrics,
    replica,
    maxClientsPerAddress: 0,
    heartbeatMs: 0,
    ...options,
  });
  onCleanup(async () => {
    await subscriptions.close();
    await server.close();
  });
  const url = `${server.url.replace('http', 'ws')}/ws`;
  /** Forgets what was written so far (the upgrades and acks). */
  const resetWrites = () => {
    for (const list of writes.values()) list.length = 0;
  };
  return { engine, metrics, subscriptions, url, writes, resetWrites };
}

const seqOf = (f: Frame) => Number(f.sequence);

describe('WebSocket fan-out to many subscribers', { timeout: 120_000 }, () => {
  it('frames a commit once per subscription shape and writes it to each subscriber at once', async () => {
    const { engine, metrics, url, writes, resetWrites } = await serve();
    const source = new Source();
    const full = await Promise.all(Array.from({ length: 40 }, () => TestClient.connect(url)));
    for (const c of full) {
      await c.request({ op: 'subscribe', id: 1, channel: 'sequences' });
      await c.request({ op: 'subscribe', id: 2, channel: 'rows' });
    }
    const keys = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect(url)));
    for (const c of keys) {
      await c.request({ op: 'subscribe', id: 1, channel: 'rows', tables: ['u'], values: false });
    }
    resetWrites();

    // one commit at a time, then five in one tick (one pump writes them all, corked)
    const COMMITS = 5;
    let messages = 0;
    const delivered = (what: string) =>
      waitFor(
        () =>
          full.every((c) => c.on('sequences').length === messages) &&
          full.every((c) => c.on('rows').length === source.rowChanges),
        what,
      );
    for (let k = 0; k < COMMITS; k++) {
      engine.emit('applied', source.commit(20, 10));
      messages += 20;
      await delivered(`commit ${k}`);
    }
    for (let k = 0; k < COMMITS; k++) engine.emit('applied', source.commit(20, 10));
    messages += 20 * COMMITS;
    await delivered('five commits at once');
    const uRows = source.rowChanges / 5;
    await waitFor(() => keys.every((c) => c.on('rows').length === uRows), 'the u rows');

    // One socket write per subscriber and commit (before: two per frame, 220 frames a commit).
    const sockets = [...writes.values()].filter((list) => list.length > 0);
    expect(sockets).toHaveLength(50);
    for (const list of sockets) expect(list).toHaveLength(2 * COMMITS);
    // The bytes written are the same buffers for every subscriber of a shape: one per commit and
    // shape (before: each frame encoded again for each subscriber).
    const distinct = new Set(sockets.flat());
    expect(distinct.size).toBe(2 * 2 * COMMITS);

    // What the subscribers got is complete, in order, and what they asked for.
    const first = full[0]!;
    expect(first.on('sequences').map(seqOf)).toEqual(Array.from({ length: messages }, (_, i) => i));
    const rows = first.on('rows');
    expect(rows.map(seqOf)).toEqual([...rows.map(seqOf)].sort((a, b) => a - b));
    expect(rows[0]).toEqual({
      channel: 'rows',
      sequence: 0,
      table: 'u',
      op: 'INSERT',
      pk: [1],
      new: { id: 1, w: '1.......' },
    });
    for (const c of full) expect(c.frames).toEqual(first.frames);
    const wantKeys = rows
      .filter((f) => f.table === 'u')
      .map(({ channel, sequence, table, op, pk }) => ({ channel, sequence, table, op, pk }));
    for (const c of keys) expect(c.on('rows')).toEqual(wantKeys);
    expect(await metric(metrics, 'synddb_ws_messages_sent_total', { channel: 'rows' })).toBe(
      40 * source.rowChanges + 10 * uRows,
    );
    expect(await metric(metrics, 'synddb_ws_messages_sent_total', { channel: 'sequences' })).toBe(
      40 * messages,
    );
  });

  it('writes nothing per commit to subscribers that never read, drops them with 4008; a reader gets everything', async () => {
    const HIGH_WATER = 256 * 1024;
    const { engine, metrics, url, writes, resetWrites } = await serve({
      sendHighWaterMark: HIGH_WATER,
      // ~40 commits of queued changesets once a non-reader's socket stops taking them
      maxBufferedBytes: 2 * 1024 * 1024,
      maxTotalBufferedBytes: 1024 ** 3,
      closeGraceMs: 30_000,
    });
    const source = new Source();
    const reader = await TestClient.connect(url);
    await reader.request({ op: 'subscribe', id: 1, channel: 'sequences' });
    await reader.request({ op: 'subscribe', id: 2, channel: 'rows' });
    const NON_READERS = 20;
    const stalled: TestClient[] = [];
    for (let i = 0; i < NON_READERS; i++) {
      const c = await TestClient.connect(url);
      await c.request({ op: 'subscribe', id: 1, channel: 'rows' });
      c.ws.pause(); // never reads again: the kernel's buffers fill, then the server's
      stalled.push(c);
    }
    resetWrites();
    // accepted in connection order: the reader first
    const [readerWrites, ...nonReaderWrites] = [...writes.values()];
    expect(nonReaderWrites).toHaveLength(NON_READERS);
    const nonReaderTotal = () => nonReaderWrites.reduce((n, list) => n + list!.length, 0);

    // ~45 KB of changesets (~65 KB of row frames) a commit, one part (under 64 KiB), until every
    // non-reader is dropped
    const dropped = () =>
      metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'slow_consumer' });
    const perCommit: { nonReaderWrites: number; dropped: number }[] = [];
    let messages = 0;
    while ((await dropped()) < NON_READERS && perCommit.length < 1000) {
      const before = nonReaderTotal();
      engine.emit('applied', source.commit(20, 10, 200));
      messages += 20;
      await waitFor(() => reader.on('sequences').length === messages, `commit ${perCommit.length}`);
      await new Promise((r) => setTimeout(r, 10)); // the non-readers' writes too
      perCommit.push({ nonReaderWrites: nonReaderTotal() - before, dropped: await dropped() });
    }
    expect(await dropped()).toBe(NON_READERS);
    const commits = perCommit.length;

    // At most one write per commit to a non-reader while its socket took them, plus the close
    // frame (two writes); none in the commits before the drops, once the sockets stopped taking
    // (before: two writes per frame, 200 frames a commit).
    for (const list of nonReaderWrites) expect(list!.length).toBeLessThanOrEqual(commits + 2);
    const firstDrop = perCommit.findIndex((c) => c.dropped > 0);
    expect(firstDrop, JSON.stringify(perCommit)).toBeGreaterThan(10);
    expect(
      perCommit.slice(firstDrop - 10, firstDrop).map((c) => c.nonReaderWrites),
      JSON.stringify(perCommit),
    ).toEqual(Array(10).fill(0));

    // The reader got everything, in order, one write per commit.
    await waitFor(() => reader.on('rows').length === source.rowChanges, 'every row frame');
    expect(reader.on('sequences').map(seqOf)).toEqual(
      Array.from({ length: messages }, (_, i) => i),
    );
    const rows = reader.on('rows');
    expect(rows.map(seqOf)).toEqual([...rows.map(seqOf)].sort((a, b) => a - b));
    expect(readerWrites!.length).toBeLessThanOrEqual(commits);

    for (const c of stalled) c.ws.resume();
    for (const c of stalled) {
      expect(await c.closed).toEqual({ code: 4008, reason: 'slow consumer' });
    }
  });

  it('writes a big commit in parts, so a socket buffer stays near the high-water mark', async () => {
    const HIGH_WATER = 256 * 1024;
    const { engine, url, subscriptions, writes, resetWrites } = await serve({
      sendHighWaterMark: HIGH_WATER,
    });
    const source = new Source();
    const reader = await TestClient.connect(url);
    await reader.request({ op: 'subscribe', id: 1, channel: 'rows' });
    reader.ws.pause();
    resetWrites();
    // ~4 MB of changesets in one commit (a validator catching up), ~5 MB of row frames
    const commit = source.commit(100, 10, 4000);
    engine.emit('applied', commit);
    await new Promise((r) => setTimeout(r, 100));
    // written up to the high-water mark, plus at most one part (64 KiB of changesets, ~100 KB of
    // frames); the rest waits in the queue (before: the whole commit's frames in one go)
    const [buffered] = subscriptions.clients().map((c) => c.bufferedAmount);
    expect(buffered).toBeGreaterThan(0);
    expect(buffered).toBeLessThan(HIGH_WATER + 256 * 1024);
    reader.ws.resume();
    await waitFor(() => reader.on('rows').length === source.rowChanges, 'the whole commit');
    expect(reader.on('rows').map(seqOf)).toEqual(
      Array.from({ length: 100 }, (_, i) => Array(10).fill(i)).flat(),
    );
    // one write per part: 64 KiB of changesets each
    const [list] = [...writes.values()];
    const bytes = commit.reduce((n, m) => n + m.changesets[0]!.byteLength, 0);
    expect(list!.length).toBeGreaterThanOrEqual(Math.floor(bytes / (64 * 1024)));
    expect(list!.length).toBeLessThanOrEqual(2 * Math.ceil(bytes / (64 * 1024)));
  });
});
