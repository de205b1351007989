// Prepare worker for bench/one-row-profile.ts: the real worker module (SYNDDB_PREPARE_WORKER, a
// file URL) with a CPU profiler and the thread's CPU clock, started and stopped by the bench over
// a BroadcastChannel, so a profile covers the catch-up only (not the worker's start-up).
import { Session } from 'node:inspector/promises';
import { BroadcastChannel, threadId } from 'node:worker_threads';

const session = new Session();
session.connect();
await session.post('Profiler.enable');
const interval = Number(process.env.SYNDDB_PROFILE_INTERVAL_US ?? 100);
if (interval > 0) await session.post('Profiler.setSamplingInterval', { interval });
const channel = new BroadcastChannel('synddb-bench-profile');
channel.unref();
let cpuAtStart = process.threadCpuUsage();
channel.onmessage = async (event: unknown) => {
  const data = (event as { data: unknown }).data;
  if (data === 'start') {
    if (interval > 0) await session.post('Profiler.start');
    cpuAtStart = process.threadCpuUsage();
    channel.postMessage({ started: threadId });
  } else if (data === 'stop') {
    const cpu = process.threadCpuUsage(cpuAtStart);
    const { profile } =
      interval > 0
        ? await session.post('Profiler.stop')
        : { profile: { nodes: [], samples: [], timeDeltas: [] } };
    channel.postMessage({ threadId, cpuUs: cpu.user + cpu.system, profile });
  }
};

const module = process.env.SYNDDB_PREPARE_WORKER;
if (module === undefined) throw new Error('SYNDDB_PREPARE_WORKER is not set');
await import(module);
