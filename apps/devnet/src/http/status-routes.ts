import { Hono } from 'hono';
import { hex0x } from '../hex0x';
import type { Batcher } from '../sequencer/batcher';
import type { MessageSequencer } from '../sequencer/message-sequencer';
import { jsonResponse } from './json-text';

export interface StatusRoutesParameters {
  sequencer: MessageSequencer;
  batcher: Batcher;
  signer: { pubkey: Uint8Array; address: string };
  /** Health checks for `/ready` beyond the sequencer itself (e.g. the directory mirror). */
  checks: () => { name: string; status: 'ok' | 'error'; message?: string }[];
  isStopped: () => boolean;
}

/**
 * `/status`, `/health`, `/ready`, `/batch/stats`, `POST /batch/flush`
 * (docs/protocol.md#sequencer-ingestion-api).
 */
export function statusRoutes(parameters: StatusRoutesParameters): Hono {
  const { sequencer, batcher, signer, checks, isStopped } = parameters;
  const app = new Hono();

  app.get('/status', () =>
    jsonResponse({
      current_sequence: sequencer.nextSequence,
      signer_address: signer.address,
      signer_pubkey: hex0x(signer.pubkey),
    }),
  );

  app.get('/health', (c) => c.text('OK'));

  app.get('/ready', () => {
    const all = [
      { name: 'sequencer', status: isStopped() ? 'error' : 'ok' } as const,
      ...checks(),
    ].map((check) =>
      'message' in check && check.message !== undefined
        ? check
        : { name: check.name, status: check.status },
    );
    const ready = all.every((check) => check.status === 'ok');
    return jsonResponse({ status: ready ? 'ready' : 'degraded', checks: all }, ready ? 200 : 503);
  });

  app.get('/batch/stats', () => {
    const s = batcher.stats();
    return jsonResponse({
      enabled: true,
      batches_published: s.batchesPublished,
      messages_published: s.messagesPublished,
      bytes_published: s.bytesPublished,
      bytes_uncompressed: s.bytesUncompressed,
      compression_ratio: s.bytesPublished === 0 ? 0 : s.bytesUncompressed / s.bytesPublished,
      pending_messages: s.pendingMessages,
      pending_bytes: s.pendingBytes,
      last_flush_timestamp: s.lastFlushTimestamp,
    });
  });

  app.post('/batch/flush', () => {
    const result = batcher.flush();
    if (result === null) return jsonResponse({ published: false });
    return jsonResponse({
      published: true,
      reference: result.reference,
      compressed_bytes: result.compressedBytes,
    });
  });
  return app;
}
