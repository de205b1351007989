// Query worker: a child process of the query pool (its own tsup entry, `dist/query-worker.js`)
// that runs read queries on its own read-only node:sqlite connection to the replica. It is a
// process, not a thread, so that a statement that runs too long can be interrupted for sure: the
// parent kills the process (a worker thread cannot be terminated while SQLite is inside
// sqlite3_step). What may run is decided by SQLite's authorizer (read-only-authorizer.ts); the
// connection is also opened read-only and in defensive mode, without extension loading.
// Messages: worker-protocol.ts.
import { DatabaseSync } from 'node:sqlite';
import { createReadOnlyAuthorizer } from './read-only-authorizer';
import { type ReadConnection, readConnection, runRead } from './run-read';
import type { WorkerMessage, WorkerRequestMessage } from './worker-protocol';

const path = process.argv[2];
const busyTimeoutMs = Number(process.argv[3] ?? 5000);

// A parent that went away (EPIPE) ends the worker.
const send = (message: WorkerMessage) => {
  if (process.send === undefined || !process.connected) process.exit(0);
  process.send(message, undefined, undefined, (error: Error | null) => {
    if (error) process.exit(0);
  });
};

function open(): ReadConnection {
  if (path === undefined) throw new Error('usage: query-worker <databasePath> [busyTimeoutMs]');
  const db = new DatabaseSync(path, {
    readOnly: true,
    readBigInts: true,
    allowExtension: false,
    timeout: busyTimeoutMs,
  });
  if (typeof db.setAuthorizer !== 'function') {
    throw new Error(`node:sqlite in Node ${process.version} has no setAuthorizer (need >= 24.10)`);
  }
  if (typeof db.enableDefensive === 'function') db.enableDefensive(true);
  const authorizer = createReadOnlyAuthorizer();
  db.setAuthorizer(authorizer.callback);
  return readConnection(db, authorizer);
}

let conn: ReadConnection | undefined;
try {
  conn = open();
} catch (error) {
  // Exit once the reason is out: the pool reports it instead of replacing the worker.
  const fatal: WorkerMessage = { fatal: error instanceof Error ? error.message : String(error) };
  if (process.send === undefined || !process.connected) process.exit(3);
  process.send(fatal, undefined, undefined, () => process.exit(3));
}

if (conn !== undefined) {
  const reader = conn;
  process.on('message', (request: WorkerRequestMessage) => {
    send({ id: request.id, ...runRead(reader, request) });
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
}
