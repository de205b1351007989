/**
 * WebSocket subscriptions end to end: the devnet sequencer and sample app, a real sync engine on a
 * replica file, the validator API on 127.0.0.1 with subscriptions attached, `ws` clients.
 */
import { summarizeChangeset } from '@synddb/applier';
import type { AppliedMessage } from '@synddb/sync';
import { onCleanup, waitFor } from '@synddb/test-support';
import { describe, expect, it } from 'vitest';
import {
  attachSubscriptions,
  bindSyncMetrics,
  createValidatorApi,
  createValidatorMetrics,
  jsonSqlValue,
  serveValidatorApi,
  type ValidatorMetrics,
} from '../src/index';
import {
  createReplica,
  type Devnet,
  type Frame,
  publishedHead,
  type Replica,
  startDevnet,
  TestClient,
} from './support';

async function metric(
  metrics: ValidatorMetrics,
  name: string,
  labels: Record<string, string> = {},
) {
  const m = metrics.registry.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const data = await m.get();
  const histogram = String(data.type) === 'histogram';
  const hit = data.values.find((v) => {
    const metricName = (v as { metricName?: string }).metricName;
    if (histogram && metricName !== `${name}_count`) return false;
    return Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want);
  });
  return hit?.value ?? 0;
}

interface Served {
  devnet: Devnet;
  replica: Replica;
  metrics: ValidatorMetrics;
  wsUrl: string;
  subscriptions: ReturnType<typeof attachSubscriptions>;
  applied: AppliedMessage[];
}

async function serve(options: Partial<Parameters<typeof attachSubscriptions>[1]> = {}) {
  const devnet = await startDevnet();
  const replica = createReplica(devnet);
  const metrics = createValidatorMetrics();
  const unbind = bindSyncMetrics(replica.engine, metrics);
  onCleanup(unbind);
  const applied: AppliedMessage[] = [];
  replica.engine.on('applied', (messages) => applied.push(...messages));
  const app = createValidatorApi({ status: () => replica.engine.status(), metrics });
  const server = await serveValidatorApi(app, { bindAddress: '127.0.0.1:0' });
  const subscriptions = attachSubscriptions(server.server, {
    engine: replica.engine,
    replica: replica.readDb,
    metrics,
    ...options,
  });
  onCleanup(async () => {
    await subscriptions.close();
    await server.close();
  });
  const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
  return { devnet, replica, metrics, wsUrl, subscriptions, applied } satisfies Served;
}

const RENAMES = 100;
const seq = (f: Frame) => BigInt(f.sequence as number | string);

async function caughtUp(served: Served): Promise<bigint> {
  const head = publishedHead(served.devnet);
  await waitFor(
    () => (served.replica.engine.status().lastSequence ?? -1n) >= head,
    `sequence ${head}`,
  );
  return head;
}

type Row = Record<string, unknown>;

/** Folds row frames of one table into its rows by primary key (JSON of pk). */
function fold(frames: Frame[], table: string): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const f of frames) {
    if (f.table !== table) continue;
    const key = JSON.stringify(f.pk);
    if (f.op === 'INSERT') rows.set(key, { ...(f.new as Row) });
    else if (f.op === 'UPDATE') rows.set(key, { ...rows.get(key), ...(f.new as Row) });
    else if (f.op === 'DELETE') rows.delete(key);
  }
  return rows;
}

describe('WebSocket subscriptions on a syncing validator', { timeout: 180_000 }, () => {
  it('streams sequences in order and row changes matching what the sample app did', async () => {
    const served = await serve();
    const { devnet, replica, metrics } = served;
    const all = await TestClient.connect(served.wsUrl);
    expect(await all.request({ op: 'subscribe', id: 1, channel: 'sequences' })).toEqual({
      op: 'subscribed',
      id: 1,
      channel: 'sequences',
    });
    expect(await all.request({ op: 'subscribe', id: 2, channel: 'rows' })).toEqual({
      op: 'subscribed',
      id: 2,
      channel: 'rows',
      tables: null,
      values: true,
    });
    const accountsOnly = await TestClient.connect(served.wsUrl);
    await accountsOnly.request({
      op: 'subscribe',
      id: 'a',
      channel: 'rows',
      tables: ['accounts'],
      values: false,
    });
    expect(served.subscriptions.clients()).toHaveLength(2);
    expect(await metric(metrics, 'synddb_ws_clients')).toBe(2);

    replica.engine.start();
    const summary = await devnet.app.runWorkload({
      transactions: 150,
      seed: 11,
      snapshotEvery: 60,
    });
    expect(summary.snapshots).toBeGreaterThan(0);
    const head = await caughtUp(served);
    await waitFor(() => all.on('sequences').length === Number(head) + 1, 'every sequence');

    // sequences: 0..head, in order, without gaps, with the types the app sent
    const sequences = all.on('sequences');
    expect(sequences.map(seq)).toEqual(
      Array.from({ length: Number(head) + 1 }, (_, i) => BigInt(i)),
    );
    const kinds = new Map(
      devnet.app.sent.map((s) => [
        BigInt(s.sequence),
        s.kind === 'changesets' ? 'changeset' : s.kind,
      ]),
    );
    for (const f of sequences) {
      expect(f.type).toBe(kinds.get(seq(f)));
      expect(typeof f.timestamp).toBe('number');
    }

    // rows: per sequence and table, the same op counts as the applier's summary of the changesets
    const expected = new Map<string, number>();
    for (const m of served.applied) {
      for (const cs of m.changesets) {
        for (const t of summarizeChangeset(cs).tables) {
          for (const [op, n] of [
            ['INSERT', t.inserts],
            ['UPDATE', t.updates],
            ['DELETE', t.deletes],
          ] as const) {
            if (n > 0) {
              const key = `${m.sequence}/${t.name}/${op}`;
              expected.set(key, (expected.get(key) ?? 0) + n);
            }
          }
        }
      }
    }
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const snapshots = devnet.app.sent.filter((s) => s.kind === 'snapshot');
    await waitFor(
      () => all.on('rows').length === total + snapshots.length,
      `${total} row changes and ${snapshots.length} snapshot notices`,
    );
    const rows = all.on('rows');
    const actual = new Map<string, number>();
    for (const f of rows) {
      if (f.op === 'SNAPSHOT') continue;
      const key = `${seq(f)}/${f.table}/${f.op}`;
      actual.set(key, (actual.get(key) ?? 0) + 1);
    }
    expect(actual).toEqual(expected);
    for (const tables of ['accounts', 'transfers', 'account_labels', 'withdrawals']) {
      expect(rows.some((f) => f.table === tables)).toBe(true);
    }
    // row frames are in sequence order, snapshot notices at the snapshots' sequences
    const order = rows.map(seq);
    expect([...order].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(order);
    expect(rows.filter((f) => f.op === 'SNAPSHOT')).toEqual(
      snapshots.map((s) => ({ channel: 'rows', sequence: s.sequence, op: 'SNAPSHOT' })),
    );

    // values: folding the stream rebuilds the source's accounts exactly (64-bit balances too)
    const source = devnet.app.db.prepare('SELECT * FROM accounts').all() as Row[];
    const folded = fold(rows, 'accounts');
    expect(folded.size).toBe(source.length);
    for (const row of source) {
      const want = Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, jsonSqlValue(v as never)]),
      );
      expect(folded.get(JSON.stringify([want.id]))).toEqual(want);
    }
    expect(source.some((r) => (r.balance as bigint) > 2n ** 53n)).toBe(true);
    expect(
      [...folded.values()].some((r) => typeof r.balance === 'string'),
      'balances beyond 2^53 arrive as strings',
    ).toBe(true);
    const transfer = rows.find((f) => f.table === 'transfers' && f.op === 'INSERT');
    expect((transfer?.new as Row | undefined)?.reference).toMatch(/^0x[0-9a-f]+$/);
    const update = rows.find((f) => f.table === 'accounts' && f.op === 'UPDATE');
    expect(Object.keys((update?.old ?? {}) as Row)).toContain('id');

    // the filtered client: accounts only, keys but no values
    const accountFrames = accountsOnly.on('rows').filter((f) => f.op !== 'SNAPSHOT');
    expect(accountFrames.length).toBe(rows.filter((f) => f.table === 'accounts').length);
    expect(
      accountFrames.every((f) => f.table === 'accounts' && !('new' in f) && !('old' in f)),
    ).toBe(true);
    expect(accountFrames.map((f) => f.pk)).toEqual(
      rows.filter((f) => f.table === 'accounts').map((f) => f.pk),
    );

    // unsubscribe: sequences stop, rows go on
    expect(await all.request({ op: 'unsubscribe', id: 3, channel: 'sequences' })).toEqual({
      op: 'unsubscribed',
      id: 3,
      channel: 'sequences',
    });
    await accountsOnly.request({ op: 'unsubscribe', id: 'b', channel: 'rows' });
    const accountFramesBefore = accountsOnly.on('rows').length;
    const rowsBefore = all.on('rows').length;
    const id = await devnet.app.openAccount('Late', 5n);
    devnet.app.flushChangesets();
    const head2 = await caughtUp(served);
    await waitFor(() => all.on('rows').length > rowsBefore, 'rows after unsubscribing sequences');
    expect(all.on('rows').at(-1)).toMatchObject({
      sequence: Number(head2),
      table: 'accounts',
      op: 'INSERT',
      pk: [id],
      new: { id, owner: 'Late', balance: 5, nickname: null },
    });
    expect(all.on('sequences')).toHaveLength(Number(head) + 1);
    expect(accountsOnly.on('rows')).toHaveLength(accountFramesBefore);

    // metrics moved on every path
    const sentTypes = (kind: string) => devnet.app.sent.filter((s) => s.kind === kind).length;
    expect(await metric(metrics, 'synddb_messages_applied_total', { type: 'snapshot' })).toBe(
      sentTypes('snapshot'),
    );
    expect(await metric(metrics, 'synddb_messages_applied_total', { type: 'withdrawal' })).toBe(
      sentTypes('withdrawal'),
    );
    expect(await metric(metrics, 'synddb_messages_applied_total', { type: 'changeset' })).toBe(
      sentTypes('changesets'),
    );
    expect(await metric(metrics, 'synddb_snapshots_applied_total')).toBe(sentTypes('snapshot'));
    expect(await metric(metrics, 'synddb_validator_withdrawals_processed_total')).toBe(
      sentTypes('withdrawal'),
    );
    expect(await metric(metrics, 'synddb_changesets_applied_total')).toBeGreaterThan(0);
    expect(await metric(metrics, 'synddb_validator_last_sequence')).toBe(Number(head2));
    expect(await metric(metrics, 'synddb_sync_lag_sequences')).toBe(0);
    expect(await metric(metrics, 'synddb_batch_fetch_duration_seconds')).toBeGreaterThan(0);
    expect(await metric(metrics, 'synddb_validator_verify_duration_seconds')).toBeGreaterThan(0);
    expect(await metric(metrics, 'synddb_apply_duration_seconds')).toBeGreaterThan(0);
    expect(await metric(metrics, 'synddb_ws_messages_sent_total', { channel: 'sequences' })).toBe(
      Number(head) + 1,
    );
    expect(await metric(metrics, 'synddb_ws_messages_sent_total', { channel: 'rows' })).toBe(
      all.on('rows').length + accountsOnly.on('rows').length,
    );
    expect(await metric(metrics, 'synddb_ws_connections_total')).toBe(2);
  });

  it('drops a slow consumer with 4008 "slow consumer" while the others keep receiving', async () => {
    const served = await serve({
      maxBufferedBytes: 12 * 1024 * 1024,
      sendHighWaterMark: 256 * 1024,
      closeGraceMs: 10_000,
    });
    const { devnet, replica, metrics } = served;
    const slow = await TestClient.connect(served.wsUrl);
    await slow.request({ op: 'subscribe', id: 1, channel: 'rows' });
    const fast = await TestClient.connect(served.wsUrl);
    await fast.request({ op: 'subscribe', id: 1, channel: 'sequences' });
    await fast.request({ op: 'subscribe', id: 2, channel: 'rows', tables: ['accounts'] });
    slow.ws.pause(); // stops reading: the kernel buffers fill, then the server's send buffer

    replica.engine.start();
    const account = await devnet.app.openAccount('Big', 1n);
    const nickname = (i: number) => `${i}`.padEnd(256 * 1024, 'x');
    for (let i = 0; i < RENAMES; i++) await devnet.app.rename(account, nickname(i));
    const head = await caughtUp(served);
    await waitFor(
      () =>
        fast.on('sequences').length === Number(head) + 1 &&
        fast.on('rows').filter((f) => f.op === 'UPDATE').length === RENAMES,
      // ~50 MB of row frames after catch-up: on a loaded 2-core machine this took over 20 s.
      { what: 'the fast client receives everything', timeoutMs: 90_000 },
    );
    expect(fast.on('rows').filter((f) => f.op === 'UPDATE')).toHaveLength(RENAMES);
    expect((fast.on('rows').at(-1)?.new as Row | undefined)?.nickname).toBe(nickname(RENAMES - 1));
    expect(
      await metric(metrics, 'synddb_ws_clients_dropped_total', { reason: 'slow_consumer' }),
    ).toBe(1);
    expect(served.subscriptions.clients().find((c) => c.rows?.tables === null)?.closing).toBe(true);

    slow.ws.resume();
    expect(await slow.closed).toEqual({ code: 4008, reason: 'slow consumer' });
    expect(slow.on('rows').length).toBeLessThan(RENAMES + 1);
    await waitFor(() => served.subscriptions.clients().length === 1, 'the slow client removed');
    expect(await metric(metrics, 'synddb_ws_clients')).toBe(1);
  });
});
