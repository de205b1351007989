// The worker launcher: query workers are forked by a spawner process, never by this one (a fork
// stalls the forking thread while the kernel copies its page tables), and talk to this process
// over a Unix socket guarded by a one-time token. Real processes on a real replica file.
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isRunning as alive, childrenOf, onCleanup, tempDir, waitFor } from '@synddb/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryWorkerLocation } from './query-pool';
import { createQueryService } from './query-service';
import { createWorkerLauncher, type WorkerHandle } from './worker-launcher';
import { CHANNEL_ENV } from './worker-protocol';

let path: string;

beforeAll(() => {
  path = join(tempDir('worker-launcher-', { scope: 'file' }), 'replica.db');
  const db = new DatabaseSync(path);
  db.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT); INSERT INTO kv VALUES (1, 1);');
  db.close();
});

function launcher() {
  const l = createWorkerLauncher();
  onCleanup(() => l.close());
  return l;
}

const worker = queryWorkerLocation();

/** The socket a worker was told to connect to (from its environment). */
function channelOf(pid: number): string {
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return environ.find((e) => e.startsWith(`${CHANNEL_ENV}=`))!.slice(CHANNEL_ENV.length + 1);
}
const spec = () => ({ modulePath: worker.path, args: [path, '5000'], execArgv: worker.execArgv });

/** The worker's first message (ready or fatal). */
const firstMessage = (h: WorkerHandle) =>
  new Promise<unknown>((resolve, reject) => {
    h.on('message', resolve);
    h.on('startFailed', reject);
  });

describe('createWorkerLauncher', () => {
  it('forks every worker from one spawner process: this process forks once', async () => {
    const before = childrenOf(process.pid);
    const l = launcher();
    const handles = [l.start(spec()), l.start(spec()), l.start(spec())];
    expect(await Promise.all(handles.map(firstMessage))).toEqual(
      handles.map(() => ({ ready: true })),
    );
    const spawners = childrenOf(process.pid).filter((pid) => !before.includes(pid));
    expect(spawners).toHaveLength(1);
    const spawner = spawners[0]!;
    expect(childrenOf(spawner).sort()).toEqual(handles.map((h) => h.pid).sort());
    // Replacing killed workers forks nothing here.
    for (let i = 0; i < 3; i++) {
      const h = handles.shift()!;
      const exit = new Promise((resolve) => h.on('exit', (_code, signal) => resolve(signal)));
      h.kill();
      expect(await exit).toBe('SIGKILL');
      expect(alive(h.pid!)).toBe(false);
      const next = l.start(spec());
      expect(await firstMessage(next)).toEqual({ ready: true });
      handles.push(next);
    }
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([spawner]);
    expect(childrenOf(spawner).sort()).toEqual(handles.map((h) => h.pid).sort());
  });

  it('answers requests over the channel, in order', async () => {
    const h = launcher().start(spec());
    expect(await firstMessage(h)).toEqual({ ready: true });
    const answers: unknown[] = [];
    h.on('message', (m, payload) =>
      answers.push({ ...(m as object), rowsJson: payload?.toString('utf8') }),
    );
    const request = (id: number, sql: string) => ({
      id,
      sql,
      params: null,
      minSequence: null,
      maxRows: 10,
      maxBytes: 1 << 20,
    });
    h.send(request(1, 'SELECT 41 + 1'));
    h.send(request(2, "SELECT hex(zeroblob(100000)) || ''"));
    h.send(request(3, 'SELECT v FROM kv'));
    await waitFor(() => answers.length === 3);
    expect(answers.map((a) => (a as { id: number }).id)).toEqual([1, 2, 3]);
    expect(JSON.parse((answers[0] as { rowsJson: string }).rowsJson)).toEqual([[42]]);
    expect((answers[1] as { rowsJson: string }).rowsJson.length).toBeGreaterThan(200_000);
  });

  it('a start that cannot run is reported as startFailed, not as an exit', async () => {
    const h = launcher().start({ ...spec(), modulePath: join(path, 'missing.js') });
    const exits: unknown[] = [];
    h.on('exit', (...a) => exits.push(a));
    await expect(firstMessage(h)).rejects.toThrow(/exited before it connected/);
    await h.done;
    expect(exits).toEqual([]);
  });

  it('a connection without the token is dropped and takes no worker slot', async () => {
    const l = launcher();
    const h = l.start(spec());
    expect(await firstMessage(h)).toEqual({ ready: true });
    const channel = channelOf(h.pid!);
    for (const line of ['{"hello":"0000"}\n', 'not json\n', `${'x'.repeat(4096)}`]) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = connect(channel, () => s.write(line));
        s.on('error', () => {});
        s.on('close', () => resolve(true));
        setTimeout(() => {
          s.destroy();
          resolve(false);
        }, 3000).unref();
      });
      expect(closed, line.slice(0, 20)).toBe(true);
    }
    // The real worker is untouched.
    expect(alive(h.pid!)).toBe(true);
    const next = l.start(spec());
    expect(await firstMessage(next)).toEqual({ ready: true });
  });

  it('a spawner that dies takes its workers along, and the next start gets a new spawner', async () => {
    const before = childrenOf(process.pid);
    const l = launcher();
    const h = l.start(spec());
    expect(await firstMessage(h)).toEqual({ ready: true });
    // The worker is busy inside a statement that never ends: it would not notice on its own.
    h.send({
      id: 1,
      sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
      params: null,
      minSequence: null,
      maxRows: 10,
      maxBytes: 1 << 20,
    });
    const spawner = childrenOf(process.pid).find((pid) => !before.includes(pid))!;
    const exit = new Promise((resolve) => h.on('exit', () => resolve('exit')));
    process.kill(spawner, 'SIGKILL');
    expect(await exit).toBe('exit');
    await waitFor(() => !alive(h.pid!), 'the orphaned worker to be gone');
    const next = l.start(spec());
    expect(await firstMessage(next)).toEqual({ ready: true });
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).not.toContain(spawner);
  });

  it('Ctrl-C (SIGINT to the process group) reaches the spawner and workers without ending them', async () => {
    const before = childrenOf(process.pid);
    const l = launcher();
    const h = l.start(spec());
    expect(await firstMessage(h)).toEqual({ ready: true });
    const spawner = childrenOf(process.pid).find((pid) => !before.includes(pid))!;
    let exited = false;
    h.on('exit', () => {
      exited = true;
    });
    process.kill(spawner, 'SIGINT');
    process.kill(h.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    expect(exited).toBe(false);
    expect(alive(spawner) && alive(h.pid!)).toBe(true);
    const answer = new Promise((resolve) => h.on('message', (m) => resolve(m)));
    h.send({
      id: 7,
      sql: 'SELECT 1',
      params: null,
      minSequence: null,
      maxRows: 10,
      maxBytes: 1 << 20,
    });
    expect(await answer).toMatchObject({ id: 7, ok: true });
  });

  it('close() ends the spawner and every worker, and removes the channel directory', async () => {
    const before = childrenOf(process.pid);
    const l = createWorkerLauncher();
    const h = l.start(spec());
    expect(await firstMessage(h)).toEqual({ ready: true });
    const channel = channelOf(h.pid!);
    const spawner = childrenOf(process.pid).find((pid) => !before.includes(pid))!;
    await l.close();
    expect(alive(h.pid!)).toBe(false);
    await waitFor(() => !alive(spawner), 'the spawner to exit');
    expect(existsSync(dirname(channel))).toBe(false);
    // A start after close fails at once.
    await expect(firstMessage(l.start(spec()))).rejects.toThrow(/closed/);
  });

  it('a query service never forks after start, however often statements are interrupted', async () => {
    const before = childrenOf(process.pid);
    const s = createQueryService({ databasePath: path, workers: 2, interruptFloorMs: 50 });
    onCleanup(() => s.close());
    await s.ready();
    const mine = () => childrenOf(process.pid).filter((pid) => !before.includes(pid));
    const direct = mine();
    expect(direct).toHaveLength(1);
    const spawned = s.pool.spawned;
    for (let i = 0; i < 20 && s.pool.spawned < spawned + 4; i++) {
      await expect(
        s.query({
          sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
          timeoutMs: 100,
        }),
      ).rejects.toMatchObject({ code: 'QUERY_TIMEOUT' });
      await s.ready();
    }
    expect(s.pool.spawned).toBeGreaterThanOrEqual(spawned + 4);
    expect(mine()).toEqual(direct);
    expect(childrenOf(direct[0]!)).toHaveLength(2);
  });
});
