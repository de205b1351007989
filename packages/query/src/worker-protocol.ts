// The messages between the query pool and its worker processes (JSON over the IPC channel):
//
//   parent -> child  argv: [databasePath, busyTimeoutMs]; then WorkerRequest & {id} per query
//   child -> parent  {ready: true} once (or {fatal} when the replica cannot be opened), then one
//                    WorkerResult & {id} per request, in request order
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
      /** The rows as JSON text (an array of arrays), ready to splice into a response. */
      rowsJson: string;
      rowCount: number;
      sequence: string | null;
    }
  | { ok: false; code: string; message: string; sequence: string | null }
  | { behind: true; sequence: string | null };

/** A request on the wire: the pool numbers each one. */
export type WorkerRequestMessage = WorkerRequest & { id: number };

/** What a worker sends. */
export type WorkerMessage = { ready: true } | { fatal: string } | (WorkerResult & { id: number });
