// A lean HTTP/1.1 keep-alive client for the read benches: raw sockets, one request in flight per
// connection, responses framed by Content-Length. It is the bench's load generator, on the same
// 2 cores as the validator: node:http's client spent ~200 us of CPU per request (ClientRequest,
// the agent's bookkeeping, header parsing into objects), CPU the server under test then lacked.
// This one spends a fraction of that. Not a general client: no chunked bodies, no redirects.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  body: Buffer;
}

interface Pending {
  resolve(response: RawResponse): void;
  reject(error: Error): void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

class Connection {
  readonly socket: Socket;
  private pending: Pending | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private dead: Error | undefined;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (c: Connection) => void,
    private readonly onDead: (c: Connection) => void,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (error: Error) => {
      if (this.dead !== undefined) return;
      this.dead = error;
      this.onDead(this);
      const p = this.pending;
      this.pending = undefined;
      p?.reject(error);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(request: Buffer, pending: Pending): void {
    if (this.dead !== undefined) {
      pending.reject(this.dead);
      return;
    }
    this.pending = pending;
    this.socket.write(request);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const match = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (match === null) {
      this.socket.destroy(new Error(`response without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(match[1]);
    if (this.buffered.length < total) return;
    const body = this.buffered.subarray(end + 4, total);
    this.buffered = this.buffered.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    this.onIdle(this);
    p?.resolve({ status, body });
  }
}

/** Connections to one server, reused; at most `maxConnections` at once. */
export class RawHttpClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: { request: Buffer; pending: Pending }[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxConnections = 64,
  ) {}

  /** `request`: the whole request (head and body), as built by `postRequest`. */
  send(request: Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const pending = { resolve, reject };
      const connection = this.idle.pop() ?? this.open();
      if (connection === undefined) this.waiting.push({ request, pending });
      else connection.send(request, pending);
    });
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  private open(): Connection | undefined {
    if (this.all.size >= this.maxConnections) return undefined;
    const c = new Connection(
      this.host,
      this.port,
      (idle) => {
        const next = this.waiting.shift();
        if (next === undefined) this.idle.push(idle);
        else idle.send(next.request, next.pending);
      },
      (dead) => {
        this.all.delete(dead);
        const i = this.idle.indexOf(dead);
        if (i >= 0) this.idle.splice(i, 1);
        // requests waiting for a connection get a new one in its place
        const next = this.waiting.length > 0 ? this.open() : undefined;
        if (next !== undefined) {
          const w = this.waiting.shift() as { request: Buffer; pending: Pending };
          next.send(w.request, w.pending);
        }
      },
    );
    this.all.add(c);
    return c;
  }
}

/** A `POST path` request with a JSON body, ready to write. */
export function postRequest(host: string, port: number, path: string, json: string): Buffer {
  const body = Buffer.from(json);
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: ${host}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
      'latin1',
    ),
    body,
  ]);
}
