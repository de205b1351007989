import {
  decodeBatchBlob,
  type SignedBatch,
  signedMessageFromCose,
  signedMessageToJson,
} from '@synddb/protocol';
import { Hono } from 'hono';
import type { BatchStore } from '../sequencer/batch-store';
import { jsonResponse } from './json-text';
import { invalidU64Text, parseU64Param } from './parse-u64-param';

/**
 * The local publisher's storage API, mounted at `/storage`
 * (docs/protocol.md#sequencer-storage-api). It serves the store's view with faults applied, so a
 * hostile-storage test sees the same bytes over HTTP as in the GCS-layout directory.
 */
export function storageRoutes(store: BatchStore): Hono {
  const app = new Hono();
  // Decoded batches by blob identity: single-message sync asks for every message of a batch.
  const decoded = new WeakMap<Uint8Array, SignedBatch>();

  app.get('/batches', () =>
    jsonResponse(
      store.list().map((b) => ({ start_sequence: b.startSequence, end_sequence: b.endSequence })),
    ),
  );

  app.get('/batches/:start', (c) => {
    const text = c.req.param('start');
    const start = parseU64Param(text);
    if (start === null) return c.text(invalidU64Text(text), 400);
    const batch = store.get(start);
    if (batch === undefined) return c.body(null, 404);
    return c.body(batch.blob as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/cbor+zstd',
    });
  });

  app.get('/messages/:sequence', (c) => {
    const text = c.req.param('sequence');
    const sequence = parseU64Param(text);
    if (sequence === null) return c.text(invalidU64Text(text), 400);
    const batch = store.findContaining(sequence);
    if (batch === undefined) return c.body(null, 404);
    let parsed = decoded.get(batch.blob);
    if (parsed === undefined) {
      try {
        parsed = decodeBatchBlob(batch.blob);
      } catch (error) {
        // Only reachable when a test stored a corrupt blob on purpose.
        return jsonResponse(
          { error: `batch ${batch.startSequence} cannot be decoded: ${String(error)}` },
          500,
        );
      }
      decoded.set(batch.blob, parsed);
    }
    const message = parsed.parsedMessages.find((m) => m.header.sequence === sequence);
    if (message === undefined) return c.body(null, 404);
    return c.body(signedMessageToJson(signedMessageFromCose(message)), 200, {
      'content-type': 'application/json',
    });
  });

  app.get('/latest', () => jsonResponse({ sequence: store.latest() }));
  return app;
}
