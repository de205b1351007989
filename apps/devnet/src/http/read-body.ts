import { IngestRequestError } from '../errors';

/**
 * Reads a request body, refusing more than `limit` bytes without buffering them: a declared
 * Content-Length over the limit is refused up front, and a chunked body is cut off as soon as it
 * crosses the limit.
 */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^[0-9]+$/.test(declared) && Number(declared) > limit) {
    throw tooLarge(limit);
  }
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

function tooLarge(limit: number): IngestRequestError {
  // Rust's CBOR extractor reports an oversized body as a 400 "Invalid CBOR" rejection
  // (docs/protocol.md#sequencer-ingestion-api).
  return new IngestRequestError(
    400,
    `Invalid CBOR: request body exceeds the limit of ${limit} bytes`,
    { responseFormat: 'text' },
  );
}
