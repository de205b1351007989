import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Fault } from './fault-types';

/** A complete response, as a server would send it without a fault. */
export interface FaultResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Uint8Array;
}

/**
 * Applies the faults that act before a response exists: `status` (sent with `errorBody`),
 * `reset`, `hang`, `delay`. Returns true when the request is dealt with (the server must not
 * answer it), false when the server should go on and answer, through `sendWithFault` for body
 * faults. Uploads and other request bodies are drained, so a failed request has no effect.
 */
export async function faultBeforeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  fault: Fault,
  errorBody: (status: number, message: string) => FaultResponse,
): Promise<boolean> {
  switch (fault.kind) {
    case 'status': {
      req.resume();
      const message = `injected fault: HTTP ${fault.status}`;
      const response =
        fault.body === undefined
          ? errorBody(fault.status, message)
          : {
              status: fault.status,
              headers: { 'content-type': 'text/plain; charset=utf-8' },
              body: Buffer.from(fault.body),
            };
      const headers: OutgoingHttpHeaders = { ...response.headers };
      if (fault.retryAfter !== undefined) headers['retry-after'] = `${fault.retryAfter}`;
      sendWithFault(res, { ...response, headers }, null);
      return true;
    }
    case 'reset':
      resetConnection(req, res);
      return true;
    case 'hang':
      // Nothing is ever sent; the server's close() (or the client) ends the connection.
      req.resume();
      return true;
    case 'delay':
      return !(await waitUnlessClosed(res, fault.ms));
    default:
      return false;
  }
}

/**
 * Sends `response`, applying a body fault (`reset-mid-body`, `truncate`, `slow-body`, `stall`)
 * when one is given; any other fault, or none, sends it whole. Content-Length is always the full
 * body's, so a cut body is detectable only by its length.
 */
export function sendWithFault(
  res: ServerResponse,
  response: FaultResponse,
  fault: Fault | null,
): void {
  const { status, body } = response;
  const headers: OutgoingHttpHeaders = { ...response.headers, 'content-length': body.byteLength };
  if (res.destroyed) return;
  const kind = fault?.kind;
  if (
    body.byteLength === 0 &&
    (kind === 'reset-mid-body' || kind === 'truncate' || kind === 'stall' || kind === 'slow-body')
  ) {
    resetConnection(res.req, res);
    return;
  }
  switch (fault?.kind) {
    case 'reset-mid-body': {
      res.writeHead(status, headers);
      write(res, body.subarray(0, cutAt(body, fault.afterBytes)), () =>
        resetConnection(res.req, res),
      );
      return;
    }
    case 'truncate': {
      res.writeHead(status, headers);
      // FIN after the bytes: a clean close, with fewer bytes than Content-Length announced.
      write(res, body.subarray(0, cutAt(body, fault.afterBytes)), () => res.socket?.end());
      return;
    }
    case 'stall': {
      res.writeHead(status, headers);
      write(res, body.subarray(0, cutAt(body, fault.afterBytes)), () => undefined);
      return;
    }
    case 'slow-body': {
      const chunk = fault.chunkBytes ?? Math.max(1, Math.ceil(body.byteLength / 20));
      const interval = fault.intervalMs ?? 50;
      res.writeHead(status, headers);
      let offset = 0;
      const timer = setInterval(() => {
        if (res.destroyed) {
          clearInterval(timer);
          return;
        }
        const next = Math.min(body.byteLength, offset + chunk);
        const part = body.subarray(offset, next);
        offset = next;
        if (offset >= body.byteLength) {
          clearInterval(timer);
          res.end(part);
        } else write(res, part, () => undefined);
      }, interval);
      res.once('close', () => clearInterval(timer));
      return;
    }
    default:
      res.writeHead(status, headers).end(body);
  }
}

/** TCP RST: the client sees ECONNRESET (or "socket hang up" before any byte). */
function resetConnection(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket ?? res.socket;
  if (socket === null || socket.destroyed) return;
  socket.resetAndDestroy();
}

function cutAt(body: Uint8Array, afterBytes: number | undefined): number {
  const at = afterBytes ?? Math.floor(body.byteLength / 2);
  // Always strictly less than the whole body, else it would not be a cut.
  return Math.min(at, Math.max(0, body.byteLength - 1));
}

/** Writes unless the client is gone; `then` runs once the bytes are handed to the socket. */
function write(res: ServerResponse, chunk: Uint8Array, then: () => void): void {
  if (res.destroyed) return;
  if (chunk.byteLength === 0) {
    res.flushHeaders();
    setImmediate(then);
    return;
  }
  res.write(chunk, (error) => {
    if (error == null && !res.destroyed) then();
  });
}

/** Waits `ms`; false when the connection closed first (the client gave up). */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve(false);
      return;
    }
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}
