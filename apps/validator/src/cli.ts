#!/usr/bin/env node
import { runCli } from './run-cli';

const listeners = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
const forward = (signal: 'SIGINT' | 'SIGTERM') => {
  for (const l of listeners) l(signal);
};

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
    // Lingering keep-alive sockets or worker threads must not hold a stopped validator open.
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`synddb-validator: unexpected failure: ${String(error)}\n`);
    process.exit(1);
  },
);
