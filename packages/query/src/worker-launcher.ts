import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFrames, writeLine } from './line-channel';
import { CHANNEL_ENV, type SpawnerEvent, type SpawnerRequest, TOKEN_ENV } from './worker-protocol';

/** A worker process started by a WorkerLauncher. */
export interface WorkerHandle {
  /** Its process id, once the spawner reported it. */
  readonly pid: number | undefined;
  /** Settles once the process is gone (after 'exit' or 'startFailed'). */
  readonly done: Promise<void>;
  /** Sends one message on the worker's channel; `callback` gets a write error. */
  send(message: unknown, callback?: (error: Error | null | undefined) => void): void;
  /** SIGKILL (through the spawner, which reaps it); a no-op once it is gone. */
  kill(): void;
  /** Whether the channel keeps this process's event loop alive (while queries are out). */
  setBusy(busy: boolean): void;
  /** Every frame the worker sends: its JSON, parsed, and its raw payload if it has one. */
  on(event: 'message', listener: (message: unknown, payload: Buffer | undefined) => void): this;
  /** The worker never connected (fork failed, it died first, the spawner went away). */
  on(event: 'startFailed', listener: (error: Error) => void): this;
  /** A worker that had connected is gone. */
  on(event: 'exit', listener: (code: number | null, signal: string | null) => void): this;
}

/** Starts worker processes. */
export interface WorkerLauncher {
  start(spec: { modulePath: string; args: string[]; execArgv: string[] }): WorkerHandle;
  /** Kills the spawner (and with it any worker left) and removes the channel socket. */
  close(): Promise<void>;
}

export interface WorkerLauncherOptions {
  /** Scheduling niceness of the workers (0-19); 0 keeps this process's. Default 0. */
  nice?: number | undefined;
  /** Location of the spawner module, for bundlers that move it. */
  spawnerUrl?: URL | undefined;
  /** A worker (or the spawner) that has not connected (is not ready) by then is killed. Default 15 s. */
  startTimeoutMs?: number | undefined;
}

/** The first line a worker sends may not be longer than this. */
const HELLO_MAX_BYTES = 256;

type HandleState = 'starting' | 'running' | 'done';

class Handle extends EventEmitter implements WorkerHandle {
  pid: number | undefined;
  state: HandleState = 'starting';
  socket: Socket | undefined;
  socketClosed = false;
  exit: { code: number | null; signal: string | null } | undefined;
  /** Why a start failed, once known (reported when the process is gone). */
  failure: Error | undefined;
  killRequested = false;
  timer: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  constructor(
    readonly id: number,
    readonly token: string,
    private readonly launcher: Launcher,
  ) {
    super();
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  send(message: unknown, callback?: (error: Error | null | undefined) => void): void {
    if (this.socket === undefined || this.socket.destroyed || this.state !== 'running') {
      queueMicrotask(() => callback?.(new Error('the query worker is not connected')));
      return;
    }
    writeLine(this.socket, message, callback);
  }

  kill(): void {
    if (this.state === 'done' || this.killRequested) return;
    this.killRequested = true;
    this.launcher.kill(this);
  }

  setBusy(busy: boolean): void {
    if (this.socket === undefined) return;
    if (busy) this.socket.ref();
    else this.socket.unref();
  }

  /** The process is gone: report it once, as an exit or as a failed start. */
  settle(): void {
    if (this.state === 'done') return;
    if (this.state === 'running' && !this.socketClosed && this.socket !== undefined) return;
    const wasRunning = this.state === 'running';
    this.state = 'done';
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.#resolveDone();
    if (wasRunning) this.emit('exit', this.exit?.code ?? null, this.exit?.signal ?? null);
    else this.emit('startFailed', this.failure ?? new Error('the query worker did not start'));
  }
}

/**
 * Starts query workers from a small spawner process, so that this process never forks once the
 * spawner runs: fork() stalls the calling thread for as long as the kernel copies its page
 * tables (10-70 ms for a validator of 50-450 MB, measured), and this thread answers /health.
 * Each worker connects back over a Unix socket in a private directory and proves itself with a
 * one-time token; its results come straight here, not through the spawner.
 */
export function createWorkerLauncher(options: WorkerLauncherOptions = {}): WorkerLauncher {
  return new Launcher(options);
}

interface Channel {
  server: Server;
  path: string;
  dir: string | undefined;
}

class Launcher implements WorkerLauncher {
  readonly #nice: number;
  readonly #spawnerUrl: URL | undefined;
  readonly #startTimeoutMs: number;
  readonly #handles = new Map<number, Handle>();
  readonly #byToken = new Map<string, Handle>();
  #nextId = 0;
  #channel: Promise<Channel> | undefined;
  #spawner: ChildProcess | undefined;
  #spawnerReady = false;
  #spawnerTimer: NodeJS.Timeout | undefined;
  /** Start requests waiting for the spawner to be ready. */
  #waiting: SpawnerRequest[] = [];
  #closed = false;

  constructor(options: WorkerLauncherOptions) {
    this.#nice = options.nice ?? 0;
    this.#spawnerUrl = options.spawnerUrl;
    this.#startTimeoutMs = options.startTimeoutMs ?? 15_000;
  }

  start(spec: { modulePath: string; args: string[]; execArgv: string[] }): WorkerHandle {
    const id = this.#nextId++;
    const token = randomBytes(16).toString('hex');
    const handle = new Handle(id, token, this);
    this.#handles.set(id, handle);
    this.#byToken.set(token, handle);
    if (this.#closed) {
      handle.failure = new Error('the query pool is closed');
      queueMicrotask(() => this.#forget(handle));
      return handle;
    }
    this.#openChannel().then(
      (channel) => {
        if (handle.state !== 'starting' || handle.killRequested) {
          if (handle.state === 'starting') this.#forget(handle);
          return;
        }
        handle.timer = setTimeout(() => {
          handle.failure ??= new Error(
            `the query worker did not connect in ${this.#startTimeoutMs} ms`,
          );
          handle.kill();
        }, this.#startTimeoutMs);
        handle.timer.unref();
        this.#request({
          op: 'start',
          id,
          modulePath: spec.modulePath,
          args: spec.args,
          execArgv: spec.execArgv,
          env: { [CHANNEL_ENV]: channel.path, [TOKEN_ENV]: token },
          nice: this.#nice,
        });
      },
      (error: unknown) => {
        handle.failure = error instanceof Error ? error : new Error(String(error));
        this.#forget(handle);
      },
    );
    this.#updateRef();
    return handle;
  }

  kill(handle: Handle): void {
    if (handle.state === 'starting' && handle.pid === undefined && !this.#requested(handle)) {
      // Not asked of the spawner yet: nothing runs.
      handle.failure ??= new Error('killed before it started');
      this.#waiting = this.#waiting.filter((r) => r.id !== handle.id);
      this.#forget(handle);
      return;
    }
    if (this.#spawner?.connected) {
      this.#request({ op: 'kill', id: handle.id });
    } else if (handle.pid !== undefined) {
      // The spawner is gone (its workers now belong to init): signal the worker directly.
      try {
        process.kill(handle.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.#updateRef();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const handle of this.#handles.values()) handle.kill();
    await Promise.all([...this.#handles.values()].map((h) => h.done));
    const spawner = this.#spawner;
    if (spawner !== undefined && spawner.exitCode === null && spawner.signalCode === null) {
      const exited = new Promise<void>((resolve) => spawner.once('exit', () => resolve()));
      spawner.ref();
      // It kills what is left and exits when its channel closes.
      if (spawner.connected) spawner.disconnect();
      else spawner.kill('SIGKILL');
      await exited;
    }
    const channel = await this.#channel?.catch(() => undefined);
    if (channel !== undefined) {
      await new Promise<void>((resolve) => channel.server.close(() => resolve()));
      if (channel.dir !== undefined) rmSync(channel.dir, { recursive: true, force: true });
    }
  }

  /** Whether a start request for this handle went (or waits to go) to the spawner. */
  #requested(handle: Handle): boolean {
    return handle.timer !== undefined;
  }

  #forget(handle: Handle): void {
    this.#handles.delete(handle.id);
    this.#byToken.delete(handle.token);
    handle.settle();
    this.#updateRef();
  }

  /** Keeps this process alive while a worker is starting or being killed. */
  #updateRef(): void {
    const spawner = this.#spawner;
    if (spawner === undefined) return;
    let pending = this.#waiting.length > 0;
    for (const h of this.#handles.values()) {
      if (h.state === 'starting' || h.killRequested) pending = true;
    }
    if (pending) spawner.channel?.ref();
    else spawner.channel?.unref();
  }

  #request(request: SpawnerRequest): void {
    const spawner = this.#ensureSpawner();
    if (spawner === undefined) return;
    if (!this.#spawnerReady) {
      this.#waiting.push(request);
      return;
    }
    spawner.send(request, (error: Error | null) => {
      if (error) spawner.kill('SIGKILL');
    });
  }

  #ensureSpawner(): ChildProcess | undefined {
    if (this.#spawner !== undefined) return this.#spawner;
    const here = import.meta.url;
    const fromSource = here.endsWith('.ts');
    const url =
      this.#spawnerUrl ?? new URL(fromSource ? './worker-spawner.ts' : './worker-spawner.js', here);
    let spawner: ChildProcess;
    try {
      spawner = fork(fileURLToPath(url), [], {
        execArgv: [
          '--disable-warning=ExperimentalWarning',
          ...(fromSource ? ['--conditions=source', '--import', 'tsx'] : []),
        ],
        serialization: 'json',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
    } catch (error) {
      // No descriptor for the IPC pipe (EMFILE): every start waiting fails, the next one retries.
      this.#spawnerGone(error instanceof Error ? error.message : String(error));
      return undefined;
    }
    this.#spawner = spawner;
    this.#spawnerReady = false;
    spawner.unref();
    this.#spawnerTimer = setTimeout(() => {
      if (!this.#spawnerReady) spawner.kill('SIGKILL');
    }, this.#startTimeoutMs);
    this.#spawnerTimer.unref();
    spawner.on('message', (event: SpawnerEvent) => this.#onSpawnerEvent(event));
    spawner.on('error', (error) => {
      if (spawner.pid === undefined) {
        if (this.#spawner === spawner) this.#spawnerGone(error.message);
      } else {
        spawner.kill('SIGKILL');
      }
    });
    spawner.on('exit', (code, signal) => {
      if (this.#spawner === spawner) this.#spawnerGone(`code ${code}, signal ${signal}`);
    });
    this.#updateRef();
    return spawner;
  }

  #spawnerGone(reason: string): void {
    this.#spawner = undefined;
    this.#spawnerReady = false;
    clearTimeout(this.#spawnerTimer);
    this.#waiting = [];
    for (const handle of [...this.#handles.values()]) {
      if (handle.state === 'starting' && handle.pid === undefined) {
        handle.failure ??= new Error(`the query worker spawner exited (${reason})`);
        this.#forget(handle);
      } else if (handle.state !== 'done') {
        // Its worker may be inside a statement and never notice: end it here.
        handle.exit ??= { code: null, signal: 'SIGKILL' };
        handle.failure ??= new Error(`the query worker spawner exited (${reason})`);
        if (handle.pid !== undefined) {
          try {
            process.kill(handle.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        if (handle.state === 'starting') this.#forget(handle);
        else this.#exited(handle);
      }
    }
  }

  #onSpawnerEvent(event: SpawnerEvent): void {
    if (event.op === 'ready') {
      this.#spawnerReady = true;
      clearTimeout(this.#spawnerTimer);
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const request of waiting) this.#request(request);
      return;
    }
    const handle = this.#handles.get(event.id);
    if (handle === undefined) return;
    if (event.op === 'started') {
      handle.pid = event.pid;
      if (handle.killRequested) this.#request({ op: 'kill', id: handle.id });
    } else if (event.op === 'failed') {
      handle.failure ??= new Error(event.message);
      this.#forget(handle);
    } else {
      handle.exit = { code: event.code, signal: event.signal };
      if (handle.state === 'starting') {
        handle.failure ??= new Error(
          `the query worker exited before it connected (code ${event.code}, signal ${event.signal})`,
        );
        this.#forget(handle);
      } else {
        this.#exited(handle);
      }
    }
  }

  /** A connected worker's process is gone; it is reported once its socket has closed too. */
  #exited(handle: Handle): void {
    if (!handle.socketClosed && handle.socket !== undefined) return;
    this.#forget(handle);
  }

  #openChannel(): Promise<Channel> {
    this.#channel ??= new Promise<Channel>((resolve, reject) => {
      let dir: string | undefined = mkdtempSync(join(tmpdir(), 'synddb-query-'));
      let path = join(dir, 'channel.sock');
      if (Buffer.byteLength(path) > 100 && process.platform === 'linux') {
        // Too long for sockaddr_un: an abstract socket (the token still guards it).
        rmSync(dir, { recursive: true, force: true });
        dir = undefined;
        path = `\0synddb-query-${randomBytes(12).toString('hex')}`;
      }
      const server = createServer((socket) => this.#onConnection(socket));
      server.once('error', (error) => {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
        this.#channel = undefined;
        reject(error);
      });
      server.listen(path, () => {
        server.unref();
        resolve({ server, path, dir });
      });
    });
    return this.#channel;
  }

  #onConnection(socket: Socket): void {
    let owner: Handle | undefined;
    socket.unref();
    const helloTimer = setTimeout(() => socket.destroy(), this.#startTimeoutMs);
    helloTimer.unref();
    socket.on('error', () => {
      // 'close' follows
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (owner === undefined) return;
      owner.socketClosed = true;
      // A worker that closed its end is ending; make sure it does, then report its exit.
      if (owner.exit === undefined) owner.kill();
      else this.#exited(owner);
    });
    readFrames(
      socket,
      (value, payload) => {
        if (owner !== undefined) {
          owner.emit('message', value, payload);
          return;
        }
        clearTimeout(helloTimer);
        const token = (value as { hello?: unknown } | null)?.hello;
        const handle = typeof token === 'string' ? this.#byToken.get(token) : undefined;
        if (handle === undefined || handle.state !== 'starting' || handle.killRequested) {
          socket.destroy();
          return;
        }
        owner = handle;
        clearTimeout(handle.timer);
        // Kept alive until the pool has the worker's first answer (it unrefs once idle).
        socket.ref();
        handle.socket = socket;
        handle.state = 'running';
        this.#byToken.delete(token as string);
        this.#updateRef();
      },
      () => socket.destroy(),
      () => (owner === undefined ? HELLO_MAX_BYTES : Number.POSITIVE_INFINITY),
    );
  }
}
