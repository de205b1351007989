// The messages between the query pool and its worker processes: one JSON value per line
// (line-channel.ts) on a Unix socket the worker connects to (worker-launcher.ts), found by the
// environment variables CHANNEL_ENV and TOKEN_ENV:
//
//   worker argv      [databasePath, busyTimeoutMs]
//   child -> parent  {hello: token} first, then {ready: true} once (or {fatal} when the replica
//                    cannot be opened), then one WorkerResult & {id} per request, in request order;
//                    a result's `rows` is sent as the frame's payload, not in its JSON
//   parent -> child  WorkerRequest & {id} per query, after `ready`
//
// Integers that may exceed 2^53 (sequences) travel as decimal strings.

/** One statement as the worker runs it. */
export interface WorkerRequest {
  sql: string;
  params: readonly unknown[] | Record<string, unknown> | null;
  /** Decimal; the worker answers `behind` when its snapshot is older. */
  minSequence: string | null;
  maxRows: number;
  maxBytes: number;
}

export type WorkerResult =
  | {
      ok: true;
      columns: string[];
      /**
       * The rows as JSON text (an array of arrays), UTF-8, ready to splice into a response. On
       * the channel it is the frame's payload (line-channel.ts), never escaped or parsed.
       */
      rows: Uint8Array;
      rowCount: number;
      sequence: string | null;
    }
  | { ok: false; code: string; message: string; sequence: string | null }
  | { behind: true; sequence: string | null };

/** A request on the wire: the pool numbers each one. */
export type WorkerRequestMessage = WorkerRequest & { id: number };

/** What a worker sends. */
export type WorkerMessage = { ready: true } | { fatal: string } | (WorkerResult & { id: number });

/** What the pool asks of the spawner process (worker-spawner.ts). */
export type SpawnerRequest =
  | {
      op: 'start';
      id: number;
      modulePath: string;
      args: string[];
      execArgv: string[];
      env: Record<string, string>;
      nice: number;
    }
  | { op: 'kill'; id: number };

/** What the spawner reports. */
export type SpawnerEvent =
  | { op: 'ready' }
  | { op: 'started'; id: number; pid: number }
  | { op: 'failed'; id: number; message: string }
  | { op: 'exited'; id: number; code: number | null; signal: string | null };

/** The environment variables a worker finds its channel to the pool by. */
export const CHANNEL_ENV = 'SYNDDB_QUERY_CHANNEL';
export const TOKEN_ENV = 'SYNDDB_QUERY_TOKEN';
