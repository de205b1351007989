import type { QueryResult } from './query-service';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A sequence as JSON: a number up to 2^53-1, else a decimal string (u64 stays exact). */
const sequenceJson = (sequence: bigint | null) =>
  sequence === null ? 'null' : sequence <= MAX_SAFE ? sequence.toString() : `"${sequence}"`;

/**
 * The JSON text of a query result, `{"columns":[...],"rows":[...],"sequence":N}`, with the rows
 * spliced in as the worker wrote them (values as in `QueryResult.rowsJson`).
 */
export function queryResultJson(result: QueryResult): string {
  return `{"columns":${JSON.stringify(result.columns)},"rows":${result.rowsJson},"sequence":${sequenceJson(result.sequence)}}`;
}

/**
 * `queryResultJson` as UTF-8 bytes, built around the worker's rows bytes without decoding them:
 * what a server writes (one copy of the rows, no string of them on the serving thread).
 */
export function queryResultJsonBytes(result: QueryResult): Buffer<ArrayBuffer> {
  return Buffer.concat([
    Buffer.from(`{"columns":${JSON.stringify(result.columns)},"rows":`),
    result.rowsJsonBytes,
    Buffer.from(`,"sequence":${sequenceJson(result.sequence)}}`),
  ]);
}
