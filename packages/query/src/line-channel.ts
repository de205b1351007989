import type { Socket } from 'node:net';

const NEWLINE = 0x0a;

/**
 * Newline-delimited JSON on a stream socket: the framing of the channel between the query pool
 * and a worker (JSON.stringify never emits a raw newline, and no UTF-8 sequence contains 0x0a).
 * Lines arrive whole and in order; `onLine` gets each parsed value. A line longer than

 * `maxLineBytes()` (asked as the line grows) or one that is not JSON ends the channel (`onBad`), since only our own worker
 * writes to it.
 */
export function readLines(
  socket: Socket,
  onLine: (value: unknown) => void,
  onBad: (reason: string) => void,
  maxLineBytes: () => number = () => Number.POSITIVE_INFINITY,
): void {
  let parts: Buffer[] = [];
  let pending = 0;
  let bad = false;
  socket.on('data', (chunk: Buffer) => {
    if (bad) return;
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end < 0) break;
      const piece = chunk.subarray(start, end);
      const line = pending === 0 ? piece : Buffer.concat([...parts, piece], pending + piece.length);
      parts = [];
      pending = 0;
      start = end + 1;
      let value: unknown;
      try {
        value = JSON.parse(line.toString('utf8'));
      } catch {
        bad = true;
        onBad('a line that is not JSON');
        return;
      }
      onLine(value);
      if (bad || socket.destroyed) return;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      pending += rest.length;
      if (pending > maxLineBytes()) {
        bad = true;
        onBad(`a line longer than ${maxLineBytes()} bytes`);
        return;
      }
      parts.push(rest);
    }
  });
}

/** Writes one value as a line; `callback` gets the write's error, if any. */
export function writeLine(
  socket: Socket,
  value: unknown,
  callback?: (error: Error | null | undefined) => void,
): void {
  socket.write(`${JSON.stringify(value)}\n`, callback);
}
