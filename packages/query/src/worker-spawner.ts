// Worker spawner: a small child process of the query pool (its own tsup entry,
// `dist/worker-spawner.js`) that forks the query workers on the pool's behalf.
//
// fork() copies the calling process's page tables, and the calling thread waits while it does:
// measured 10-24 ms at 50 MB RSS and 34-68 ms at 450 MB on a loaded 2-core machine. The pool
// lives in the validator's main process, whose thread also syncs and answers /health, and every
// interrupted statement needs a new worker; forking here, in a process of a few tens of MB that
// does nothing else, keeps that stall out of the validator. The workers talk to the pool over
// their own socket (worker-launcher.ts); this process only starts, renices, kills and reaps them.
//
// Messages (JSON over the IPC channel, see SpawnerRequest / SpawnerEvent in worker-protocol.ts):
//   pool -> spawner  {op:'start', id, modulePath, args, execArgv, env, nice} | {op:'kill', id}
//   spawner -> pool  {op:'ready'} once listening, then {op:'started', id, pid} | {op:'failed', id, message} | {op:'exited', id, code, signal}
import { type ChildProcess, fork } from 'node:child_process';
import { setPriority } from 'node:os';
import type { SpawnerEvent, SpawnerRequest } from './worker-protocol';

const children = new Map<number, ChildProcess>();

const report = (event: SpawnerEvent) => {
  if (process.send === undefined || !process.connected) return;
  process.send(event);
};

function start(request: Extract<SpawnerRequest, { op: 'start' }>): void {
  const { id } = request;
  let child: ChildProcess;
  try {
    child = fork(request.modulePath, request.args, {
      execArgv: request.execArgv,
      env: { ...process.env, ...request.env },
      serialization: 'json',
      // The IPC channel only tells the worker that this process is gone (it then exits).
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  } catch (error) {
    report({ op: 'failed', id, message: error instanceof Error ? error.message : String(error) });
    return;
  }
  const pid = child.pid;
  child.on('error', (error) => {
    // A failed start (EMFILE, EAGAIN, ENOENT) is an error and never an exit.
    if (pid === undefined) report({ op: 'failed', id, message: error.message });
    else child.kill('SIGKILL');
  });
  if (pid === undefined) return;
  children.set(id, child);
  if (request.nice > 0) {
    try {
      setPriority(pid, request.nice);
    } catch {
      // not permitted here: the worker keeps this process's priority
    }
  }
  report({ op: 'started', id, pid });
  child.on('exit', (code, signal) => {
    children.delete(id);
    report({ op: 'exited', id, code, signal });
  });
}

process.on('message', (request: SpawnerRequest) => {
  if (request.op === 'start') start(request);
  else if (request.op === 'kill') children.get(request.id)?.kill('SIGKILL');
});

report({ op: 'ready' });

// Ctrl-C in a terminal signals the whole process group: this process ends with the pool (below),
// not with the terminal. Dying here took every worker along in the middle of the validator's
// graceful stop, and the pool logged them crashed and failed to replace them.
process.on('SIGINT', () => {});

// The pool is gone (its process ended or closed the pool): so are the workers.
process.on('disconnect', () => {
  for (const child of children.values()) child.kill('SIGKILL');
  process.exit(0);
});
