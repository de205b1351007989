import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type ListenOptions, listen } from './listen';

export interface TestHttpServer {
  url: string;
  port: number;
  /** Requests seen, as `METHOD url`, oldest first. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * A node:http server on loopback (ephemeral port) answering with `handler`, for tests of HTTP
 * clients. A handler that throws or rejects destroys the connection.
 */
export async function startTestHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: ListenOptions = {},
): Promise<TestHttpServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
  });
  const listening = await listen(server, options);
  return { ...listening, hits };
}
