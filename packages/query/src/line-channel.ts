import { constants } from 'node:buffer';
import type { Socket } from 'node:net';

const NEWLINE = 0x0a;

/**
 * The framing of the channel between the query pool and a worker: one JSON value per line
 * (JSON.stringify never emits a raw newline, and no UTF-8 sequence contains 0x0a), and a line
 * whose object has `payloadBytes: N` is followed by N raw bytes, its payload (a query's rows JSON,
 * which then is never escaped, parsed or transcoded on the way: it reaches the HTTP response as
 * the worker wrote it). Frames arrive whole and in order; `onFrame` gets each parsed value with
 * its payload. A line longer than `maxLineBytes()` (asked as the line grows), one that is not
 * JSON, or a bad payload length ends the channel (`onBad`), since only our own worker writes to it.
 */
export function readFrames(
  socket: Socket,
  onFrame: (value: unknown, payload: Buffer | undefined) => void,
  onBad: (reason: string) => void,
  maxLineBytes: () => number = () => Number.POSITIVE_INFINITY,
): void {
  let parts: Buffer[] = [];
  let pending = 0;
  let bad = false;
  /**
   * The header whose payload is being read, and its buffer, allocated whole when the header
   * arrives and filled as chunks come: no copy of the whole payload at its end (an 8 MB memcpy
   * stalled the thread at once).
   */
  let header: unknown;
  let payload: Buffer | undefined;
  let filled = 0;
  const fail = (reason: string) => {
    bad = true;
    onBad(reason);
  };
  socket.on('data', (chunk: Buffer) => {
    if (bad) return;
    let start = 0;
    while (start < chunk.length) {
      if (payload !== undefined) {
        const take = Math.min(payload.length - filled, chunk.length - start);
        chunk.copy(payload, filled, start, start + take);
        filled += take;
        start += take;
        if (filled < payload.length) return;
        const done = payload;
        payload = undefined;
        onFrame(header, done);
        if (bad || socket.destroyed) return;
        continue;
      }
      const end = chunk.indexOf(NEWLINE, start);
      if (end < 0) {
        const rest = chunk.subarray(start);
        pending += rest.length;
        if (pending > maxLineBytes()) return fail(`a line longer than ${maxLineBytes()} bytes`);
        parts.push(rest);
        return;
      }
      const piece = chunk.subarray(start, end);
      if (pending + piece.length > maxLineBytes()) {
        return fail(`a line longer than ${maxLineBytes()} bytes`);
      }
      const line = pending === 0 ? piece : Buffer.concat([...parts, piece], pending + piece.length);
      parts = [];
      pending = 0;
      start = end + 1;
      let value: unknown;
      try {
        value = JSON.parse(line.toString('utf8'));
      } catch {
        return fail('a line that is not JSON');
      }
      const bytes = (value as { payloadBytes?: unknown } | null)?.payloadBytes;
      if (bytes === undefined) {
        onFrame(value, undefined);
        if (bad || socket.destroyed) return;
        continue;
      }
      if (
        !Number.isSafeInteger(bytes) ||
        (bytes as number) < 0 ||
        (bytes as number) > constants.MAX_LENGTH
      ) {
        return fail('a bad payload length');
      }
      if (bytes === 0) {
        onFrame(value, Buffer.alloc(0));
        if (bad || socket.destroyed) return;
        continue;
      }
      header = value;
      try {
        payload = Buffer.allocUnsafe(bytes as number);
      } catch {
        return fail(`no memory for a payload of ${bytes} bytes`);
      }
      filled = 0;
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

/** Writes `value` with `payloadBytes` set, then the payload's bytes. */
export function writeFrame(
  socket: Socket,
  value: Record<string, unknown>,
  payload: Uint8Array,
  callback?: (error: Error | null | undefined) => void,
): void {
  socket.cork();
  socket.write(`${JSON.stringify({ ...value, payloadBytes: payload.byteLength })}\n`);
  socket.write(payload, callback);
  process.nextTick(() => socket.uncork());
}
