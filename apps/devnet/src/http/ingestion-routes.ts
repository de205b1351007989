import {
  decodeChangesetBatchRequest,
  decodeSnapshotRequest,
  decodeWithdrawalRequest,
  SyndDBError,
} from '@synddb/protocol';
import { Hono } from 'hono';
import { IngestRequestError, SequencerStoppedError } from '../errors';
import type { MessageSequencer } from '../sequencer/message-sequencer';
import { jsonResponse } from './json-text';
import { readBody } from './read-body';
import { messageReceiptJson, withdrawalReceiptJson } from './receipt-json';

export interface IngestionRoutesOptions {
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
}

/**
 * `POST /changesets`, `/snapshots`, `/withdrawals` (docs/protocol.md#sequencer-ingestion-api): CBOR
 * in, 201 JSON receipt out. 415 text for a non-CBOR content type, 400 text "Invalid CBOR: …" for an
 * undecodable body, 400 JSON `{error}` for invalid withdrawal fields, 503 JSON once the sequencer
 * is stopped.
 */
export function ingestionRoutes(
  sequencer: MessageSequencer,
  options: IngestionRoutesOptions,
): Hono {
  const app = new Hono();

  const route = <T>(
    path: string,
    decode: (cbor: Uint8Array) => T,
    submit: (request: T) => Record<string, unknown>,
  ) => {
    app.post(path, async (c) => {
      try {
        const contentType = c.req.header('content-type') ?? '';
        if (!contentType.toLowerCase().startsWith('application/cbor')) {
          return c.text('Expected Content-Type: application/cbor', 415);
        }
        const body = await readBody(c.req.raw, options.maxBodyBytes);
        let request: T;
        try {
          request = decode(body);
        } catch (error) {
          const reason = error instanceof SyndDBError ? error.shortMessage : String(error);
          return c.text(`Invalid CBOR: ${reason}`, 400);
        }
        return jsonResponse(submit(request), 201);
      } catch (error) {
        return errorResponse(error);
      }
    });
  };

  route('/changesets', decodeChangesetBatchRequest, (r) =>
    messageReceiptJson(sequencer.submitChangesets(r)),
  );
  route('/snapshots', decodeSnapshotRequest, (r) =>
    messageReceiptJson(sequencer.submitSnapshot(r)),
  );
  route('/withdrawals', decodeWithdrawalRequest, (r) =>
    withdrawalReceiptJson(sequencer.submitWithdrawal(r)),
  );
  return app;
}

function errorResponse(error: unknown): Response {
  if (error instanceof IngestRequestError) {
    if (error.responseFormat === 'text') {
      return new Response(error.shortMessage, {
        status: error.status,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    return jsonResponse({ error: error.shortMessage }, error.status);
  }
  if (error instanceof SequencerStoppedError)
    return jsonResponse({ error: error.shortMessage }, 503);
  return jsonResponse({ error: error instanceof Error ? error.message : String(error) }, 500);
}
