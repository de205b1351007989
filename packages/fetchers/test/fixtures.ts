import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  decodeCoseSign1,
  hexToBytes,
  type SignedMessage,
  signedMessageFromCose,
} from '@synddb/protocol';

interface WireFormat {
  keys: { anvil0: { pubkey64: string; address: string } };
  v4_pipeline: {
    batch_cbor_zstd: string;
    filename: string;
    messages: { sequence: number; cose_sign1: string }[];
  };
}

/** The golden vectors shared by all packages (packages/protocol/fixtures/wire-format.json). */
export const wire: WireFormat = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../protocol/fixtures/wire-format.json', import.meta.url)),
    'utf8',
  ),
);

export function bytes(hex: string): Uint8Array {
  const out = hexToBytes(hex);
  if (out === null) throw new Error(`bad hex in fixture: ${hex.slice(0, 20)}`);
  return out;
}

/** v4: a real sequencer batch blob holding sequences 0..2, signed by anvil0. */
export const V4_BLOB = bytes(wire.v4_pipeline.batch_cbor_zstd);

/** The SignedMessage view of v4 message `i`. */
export function v4Message(i: number): SignedMessage {
  const m = wire.v4_pipeline.messages[i];
  if (m === undefined) throw new Error(`no v4 message ${i}`);
  return signedMessageFromCose(decodeCoseSign1(bytes(m.cose_sign1)));
}

export interface TestHttpServer {
  url: string;
  /** Requests seen, as `METHOD path`. */
  hits: string[];
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 with an ephemeral port, for fetcher tests. */
export async function startHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): Promise<TestHttpServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    Promise.resolve(handler(req, res)).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Resolves once `predicate()` holds, checking every 10 ms; rejects after `timeoutMs` (a generous
 * bound, not a sleep: it returns as soon as the condition is met).
 */
export async function eventually(
  predicate: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
