// Query worker: a process of the query pool, forked by its spawner (worker-spawner.ts; its own
// tsup entry, `dist/query-worker.js`), that runs read queries on its own read-only node:sqlite
// connection to the replica. It is a process, not a thread, so that a statement that runs too
// long can be interrupted for sure: the pool has it killed (a worker thread cannot be terminated
// while SQLite is inside sqlite3_step). What may run is decided by SQLite's authorizer (read-only-authorizer.ts); the
// connection is also opened read-only and in defensive mode, without extension loading.
// Messages: worker-protocol.ts.
import { connect } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { readFrames, writeFrame, writeLine } from './line-channel';
import { createReadOnlyAuthorizer } from './read-only-authorizer';
import { type ReadConnection, readConnection, runRead } from './run-read';
import {
  CHANNEL_ENV,
  TOKEN_ENV,
  type WorkerMessage,
  type WorkerRequestMessage,
} from './worker-protocol';

const path = process.argv[2];
const busyTimeoutMs = Number(process.argv[3] ?? 5000);
const channelPath = process.env[CHANNEL_ENV];
const token = process.env[TOKEN_ENV];
delete process.env[TOKEN_ENV];

if (channelPath === undefined || token === undefined) {
  console.error(
    `query-worker: started without ${CHANNEL_ENV}/${TOKEN_ENV} (the query pool starts it)`,
  );
  process.exit(2);
}

// The spawner going away (its IPC channel closes) or the pool closing the socket ends the worker.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal signals the whole process group, this worker included: the pool that owns
// it stops it (or its spawner goes, and the channel above ends it), not the terminal. Dying here
// made the pool replace it in the middle of the validator's graceful stop.
process.on('SIGINT', () => {});
const socket = connect(channelPath);
socket.on('error', () => process.exit(0));
socket.on('close', () => process.exit(0));

const send = (message: WorkerMessage, then?: () => void) => {
  const done = (error: Error | null | undefined) => {
    if (error) process.exit(0);
    then?.();
  };
  // A result's rows go as the frame's raw payload: the pool splices them into the response as is.
  if ('rows' in message) {
    const { rows, ...head } = message;
    writeFrame(socket, head, rows, done);
  } else {
    writeLine(socket, message, done);
  }
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

socket.once('connect', () => {
  writeLine(socket, { hello: token });
  let conn: ReadConnection;
  try {
    conn = open();
  } catch (error) {
    // Exit once the reason is out: the pool reports it instead of replacing the worker.
    send({ fatal: error instanceof Error ? error.message : String(error) }, () => process.exit(3));
    return;
  }
  readFrames(
    socket,
    (request) =>
      send({
        id: (request as WorkerRequestMessage).id,
        ...runRead(conn, request as WorkerRequestMessage),
      }),
    () => process.exit(0),
  );
  send({ ready: true });
});
