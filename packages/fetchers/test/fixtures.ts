import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodeCoseSign1,
  hexToBytes,
  type SignedMessage,
  signedMessageFromCose,
} from '@synddb/protocol';
import { onCleanup } from '@synddb/test-support';
import {
  type GcsTestServer,
  type GcsTestServerOptions,
  type HttpFaultProxy,
  startGcsTestServer,
  startHttpFaultProxy,
  startTestHttpServer,
  type TestHttpServer,
} from '@synddb/test-support/storage';

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

/** A loopback HTTP server answering with `handler`, closed after the test. */
export async function httpServer(
  handler: Parameters<typeof startTestHttpServer>[0],
): Promise<TestHttpServer> {
  const server = await startTestHttpServer(handler);
  onCleanup(() => server.close());
  return server;
}

/** A GCS test server (fault seeds not printed unless asked), closed after the test. */
export async function gcsServer(options: GcsTestServerOptions = {}): Promise<GcsTestServer> {
  const server = await startGcsTestServer({ log: () => undefined, ...options });
  onCleanup(() => server.close());
  return server;
}

/** A fault proxy in front of `upstream`, closed after the test. */
export async function faultProxy(upstream: string): Promise<HttpFaultProxy> {
  const proxy = await startHttpFaultProxy({ upstream, log: () => undefined });
  onCleanup(() => proxy.close());
  return proxy;
}
