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
  /** The header whose payload is being read, and how many bytes it still needs. */
  let header: unknown;
  let payloadLeft = 0;
  const fail = (reason: string) => {
    bad = true;
    onBad(reason);
  };
  socket.on('data', (chunk: Buffer) => {
    if (bad) return;
    let start = 0;
    while (start < chunk.length) {
      if (payloadLeft > 0) {
        const take = Math.min(payloadLeft, chunk.length - start);
        parts.push(chunk.subarray(start, start + take));
        pending += take;
        payloadLeft -= take;
        start += take;
        if (payloadLeft > 0) return;
        const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts, pending);
        parts = [];
        pending = 0;
        onFrame(header, payload);
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
      if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) {
        return fail('a bad payload length');
      }
      if (bytes === 0) {
        onFrame(value, Buffer.alloc(0));
        if (bad || socket.destroyed) return;
        continue;
      }
      header = value;
      payloadLeft = bytes as number;
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
