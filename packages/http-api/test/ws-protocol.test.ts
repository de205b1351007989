/**
 * Protocol edges of the WebSocket subscriptions against a real server and `ws` clients, driven by
 * a stand-in engine that emits real changesets (node:sqlite sessions).
 */

import { EventEmitter } from 'node:events';
import { DatabaseSync } from 'node:sqlite';
import type { MessageType } from '@synddb/protocol';
import type { AppliedMessage } from '@synddb/sync';
import { onCleanup, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type AttachSubscriptionsOptions,
  attachSubscriptions,
  createValidatorApi,
  createValidatorMetrics,
  HttpApiConfigError,
  type RowChangesGate,
  serveValidatorApi,
  type ValidatorMetrics,
} from '../src/index';
import { TestClient } from './support';
import { testSyncStatus } from './sync-status';

class FakeEngine extends EventEmitter {
  applied(...messages: AppliedMessage[]) {
    this.emit('applied', messages);
  }
}

async function metric(
  metrics: ValidatorMetrics,
  name: string,
  labels: Record<string, string> = {},
) {
  const data = await metrics.registry.getSingleMetric(name)!.get();
  return (
    data.values.find((v) => Object.entries(labels).every(([k, w]) => String(v.labels[k]) === w))
      ?.value ?? 0
  );
}

async function serve(options: Partial<AttachSubscriptionsOptions> = {}) {
  const engine = new FakeEngine();
  const metrics = createValidatorMetrics();
  const app = createValidatorApi({
    status: () => testSyncStatus({ state: 'caught_up' }),
    metrics,
  });
  const server = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  const subscriptions = attachSubscriptions(server.server, { engine, metrics, ...options });
  onCleanup(async () => {
    await subscriptions.close();
    await server.close();
  });
  return { engine, metrics, server, subscriptions, url: `${server.url.replace('http', 'ws')}/ws` };
}

function changeset(db: DatabaseSync, sql: string): Uint8Array {
  const session = db.createSession();
  db.exec(sql);
  const out = session.changeset();
  session.close();
  return out;
}

const message = (
  sequence: bigint,
  messageType: MessageType,
  changesets: Uint8Array[] = [],
): AppliedMessage => ({
  sequence,
  timestamp: 1_700_000_000n + sequence,
  messageType,
  changesets,
});

describe('WebSocket subscription protocol', () => {
  it('answers bad messages with error codes and closes after too many', async () => {
    const { url, metrics } = await serve({ maxErrors: 6 });
    const client = await TestClient.connect(url);
    client.send('{nope');
    expect(await client.next((f) => f.code === 'BAD_JSON')).toEqual({
      op: 'error',
      code: 'BAD_JSON',
      message: 'message is not valid JSON',
    });
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.next((f) => f.code === 'BINARY_NOT_SUPPORTED');
    expect(await client.request({ op: 'select', id: 9 })).toMatchObject({
      op: 'error',
      id: 9,
      code: 'UNKNOWN_OP',
    });
    expect(await client.request({ op: 'subscribe', id: 10, channel: 'blocks' })).toMatchObject({
      code: 'UNKNOWN_CHANNEL',
    });
    expect(await client.request({ op: 'unsubscribe', id: 11, channel: 'rows' })).toMatchObject({
      code: 'NOT_SUBSCRIBED',
      message: 'not subscribed to rows',
    });
    expect(await client.request({ op: 'ping', id: 12 })).toEqual({ op: 'pong', id: 12 });
    expect(
      await client.request({ op: 'subscribe', id: 13, channel: 'rows', tables: [] }),
    ).toMatchObject({ code: 'INVALID_TABLES' });
    expect(await metric(metrics, 'synddb_ws_client_errors_total', { code: 'BAD_JSON' })).toBe(1);
    client.send({ op: 'subscribe', channel: 'rows', values: 1 });
    expect(await client.closed).toEqual({ code: 1008, reason: 'too many invalid messages' });
    expect(
      await metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'too_many_errors' }),
    ).toBe(1);
  });

  it('closes frames over maxPayload with 1009 and refuses clients over maxClients', async () => {
    const { url, metrics, subscriptions } = await serve({ maxClients: 1, maxPayload: 1024 });
    const first = await TestClient.connect(url);
    const second = await TestClient.connect(url);
    expect(await second.closed).toEqual({ code: 1013, reason: 'too many clients' });
    expect(
      await metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'max_clients' }),
    ).toBe(1);
    expect(subscriptions.clients()).toHaveLength(1);
    first.send({ op: 'ping', id: 'x'.repeat(2000) });
    expect((await first.closed).code).toBe(1009);
    await waitFor(() => subscriptions.clients().length === 0, 'client removed');
    expect(await metric(metrics, 'synddb_ws_clients')).toBe(0);
  });

  it('rejects upgrades on other paths with 404', async () => {
    const { server } = await serve();
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/elsewhere`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(404);
    // plain HTTP keeps working on the same server
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('terminates clients that miss a heartbeat and keeps the ones that answer', async () => {
    const { url, metrics, subscriptions } = await serve({ heartbeatMs: 40 });
    const healthy = await TestClient.connect(url);
    const silent = await TestClient.connect(url);
    silent.ws.pause(); // reads nothing, so it never answers a ping
    await waitFor(() => subscriptions.clients().length === 1, 'the silent client terminated');
    expect(
      await metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'heartbeat_timeout' }),
    ).toBe(1);
    // three more heartbeats, each answered: the healthy client stays
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    await waitFor(() => pings >= 3, 'three more heartbeats');
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
    expect(await healthy.request({ op: 'ping', id: 1 })).toEqual({ op: 'pong', id: 1 });
  });

  it('streams positional columns without a replica, reports undecodable changesets', async () => {
    const { url, engine, metrics } = await serve();
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const client = await TestClient.connect(url);
    await client.request({ op: 'subscribe', id: 1, channel: 'sequences' });
    await client.request({ op: 'subscribe', id: 2, channel: 'rows', tables: ['t'] });
    engine.applied(
      message(0n, 0, [changeset(db, "INSERT INTO t VALUES (1, 'a')")]),
      message(1n, 1),
      message(2n, 0, [new Uint8Array([0x54, 0x02, 0x01])]),
    );
    await client.next((f) => f.code === 'DECODE_FAILED');
    await waitFor(() => client.on('sequences').length === 3, 'three sequences');
    expect(client.on('sequences').map((f) => f.type)).toEqual([
      'changeset',
      'withdrawal',
      'changeset',
    ]);
    expect(client.on('rows')).toEqual([
      { channel: 'rows', sequence: 0, table: 't', op: 'INSERT', pk: [1], new: { 0: 1, 1: 'a' } },
    ]);
    expect(await metric(metrics, 'synddb_ws_decode_failures_total')).toBe(1);
  });

  it('decodes queued changesets with the schema they were applied under', async () => {
    const replica = new DatabaseSync(':memory:');
    replica.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, before TEXT)');
    const { url, engine } = await serve({ replica });
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const client = await TestClient.connect(url);
    await client.request({ op: 'subscribe', id: 1, channel: 'rows' });
    const first = changeset(db, "INSERT INTO t VALUES (1, 'a')");
    const second = changeset(db, "INSERT INTO t VALUES (2, 'b')");
    // all in one tick: the frames are produced after the snapshot changed the schema
    engine.applied(message(0n, 0, [first]));
    engine.emit('snapshot', { sequence: 1n, timestamp: 0n, bytes: 0 });
    replica.exec('ALTER TABLE t RENAME COLUMN before TO after');
    engine.applied(message(1n, 2));
    engine.applied(message(2n, 0, [second]));
    await waitFor(() => client.on('rows').length === 3, 'three row frames');
    expect(client.on('rows').map((f) => f.new ?? f.op)).toEqual([
      { id: 1, before: 'a' },
      'SNAPSHOT',
      { id: 2, after: 'b' },
    ]);
  });

  it('acknowledges a subscription after the commits queued before it, which lack the channel', async () => {
    // The validator's gate: a commit posted before the rows subscription is confirmed carries no
    // changesets, so its frames must leave before the ack.
    let open: (() => void) | undefined;
    const gate: RowChangesGate = {
      acquire: () => new Promise<void>((resolve) => (open = resolve)),
      release: () => {},
      onLost: () => {},
    };
    const { url, engine } = await serve({ rowChanges: gate });
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const client = await TestClient.connect(url);
    await client.request({ op: 'subscribe', id: 1, channel: 'sequences' });
    client.send({ op: 'subscribe', id: 2, channel: 'rows' });
    await waitFor(() => open !== undefined, 'the rows subscription asks the gate');
    // one tick: a commit is queued for the sequences subscriber, then the gate opens
    engine.applied(message(5n, 0));
    open!();
    await client.next((f) => f.id === 2, 'rows ack');
    engine.applied(message(6n, 0, [changeset(db, "INSERT INTO t VALUES (1, 'a')")]));
    await waitFor(() => client.on('rows').length === 1, 'row frame of 6');
    const label = (f: Record<string, unknown>) =>
      'sequence' in f ? `${f.channel}:${f.sequence}` : `${f.op}:${f.id}`;
    const order = client.frames.map(label);
    expect(order).toEqual(['subscribed:1', 'sequences:5', 'subscribed:2', 'sequences:6', 'rows:6']);

    // An unsubscribe ack follows the queued commits too, and from then on nothing of the channel
    // comes. (7's sequence frame goes out only if 7 was written before the unsubscribe arrived.)
    engine.applied(message(7n, 0, [changeset(db, "INSERT INTO t VALUES (2, 'b')")]));
    client.send({ op: 'unsubscribe', id: 3, channel: 'sequences' });
    await client.next((f) => f.id === 3, 'unsubscribe ack');
    engine.applied(message(8n, 0, [changeset(db, "INSERT INTO t VALUES (3, 'c')")]));
    await waitFor(() => client.on('rows').length === 3, 'row frames of 7 and 8');
    const rest = client.frames.slice(order.length).map(label);
    expect(rest.filter((f) => f !== 'sequences:7')).toEqual(['rows:7', 'unsubscribed:3', 'rows:8']);
    expect(rest.indexOf('sequences:7')).toBeLessThanOrEqual(0);
  });

  it('close() says 1001 to clients, stops accepting, and lets the server close', async () => {
    const { url, server, subscriptions, metrics, engine } = await serve();
    const client = await TestClient.connect(url);
    await client.request({ op: 'subscribe', id: 1, channel: 'sequences' });
    await subscriptions.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'shutdown' })).toBe(
      1,
    );
    expect(engine.listenerCount('applied')).toBe(0);
    await subscriptions.close(); // idempotent
    await server.close();
  });

  it('rejects invalid options with HttpApiConfigError', async () => {
    const { server } = await serve();
    const engine = new FakeEngine();
    expect(() => attachSubscriptions(server.server, { engine, maxClients: 0 })).toThrow(
      HttpApiConfigError,
    );
    expect(() => attachSubscriptions(server.server, { engine, path: 'ws' })).toThrow(
      HttpApiConfigError,
    );
    expect(() => attachSubscriptions(server.server, { engine, maxQueue: 1.5 })).toThrow(
      HttpApiConfigError,
    );
  });
});
