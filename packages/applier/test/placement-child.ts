// Run by thread-placement.test.ts in its own process (under `taskset` for a known affinity):
// threadCpu and leaveCpu on the main thread and on a worker thread; prints one JSON line.
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { leaveCpu, threadCpu } from '../src/index';

/** This thread's allowed CPUs, as the kernel lists them. */
const allowed = () =>
  /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1];

function probe() {
  const affinity = allowed();
  const cpu = threadCpu();
  // a CPU it is not on: nothing happens (asked again if the scheduler moved it meanwhile)
  let notHere: boolean | undefined;
  for (let i = 0; i < 10 && notHere === undefined; i++) {
    const here = threadCpu();
    const result = leaveCpu(here + 1);
    if (threadCpu() === here) notHere = result;
  }
  // the CPU it is on: it moves (asked again if the scheduler moved it before the call)
  let from = -1;
  let moved = false;
  let after = -1;
  for (let i = 0; i < 10 && !moved; i++) {
    from = threadCpu();
    moved = leaveCpu(from);
    after = threadCpu();
  }
  return {
    cpu,
    notHere,
    from,
    moved,
    after,
    affinityBefore: affinity,
    affinityAfter: allowed(),
    invalid: [leaveCpu(-1), leaveCpu(0.5), leaveCpu(Number.NaN), leaveCpu(1 << 20)],
  };
}

if (isMainThread) {
  const main = probe();
  const worker = new Worker(new URL(import.meta.url), {
    execArgv: ['--conditions=source', '--import', 'tsx'],
  });
  worker.once('message', (inWorker) => {
    console.log(JSON.stringify({ main, worker: inWorker }));
    void worker.terminate();
  });
} else {
  parentPort!.postMessage(probe());
}
