#!/usr/bin/env node
import { runCli } from './run-cli';

const listeners = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
const forward = (signal: 'SIGINT' | 'SIGTERM') => {
  for (const l of listeners) l(signal);
};

// Holds the event loop until runCli settles: start-up awaits things (worker threads, child
// processes) that may not keep Node alive on their own, and a daemon must never end with its
// start-up promise pending (it once exited silently with status 0 that way).
const keepAlive = setInterval(() => {}, 2 ** 30);

runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  onSignal: (listener) => {
    if (listeners.size === 0) {
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
      }
    };
  },
  exit: (code) => process.exit(code),
}).then(
  (code) => {
    clearInterval(keepAlive);
    // Lingering keep-alive sockets or worker threads must not hold a stopped relayer open.
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    clearInterval(keepAlive);
    process.stderr.write(`synddb-relayer: unexpected failure: ${String(error)}\n`);
    process.exit(1);
  },
);
