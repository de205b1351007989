import { CborWriter } from '../cbor/cbor-writer';
import { decodeCbor } from '../cbor/decode-cbor';
import type { ChangesetBatchRequest, ChangesetData } from '../types';
import { PayloadStruct } from './fields';

const REQUEST_KEYS = ['batch_id', 'changesets', 'attestation_token'] as const;
const DATA_KEYS = ['data', 'sequence', 'timestamp'] as const;

/**
 * Decodes a type-0 payload (docs/protocol.md#changeset-payload). Byte fields are views into `cbor`.
 */
export function decodeChangesetBatchRequest(cbor: Uint8Array): ChangesetBatchRequest {
  const request = new PayloadStruct(decodeCbor(cbor), 'ChangesetBatchRequest', REQUEST_KEYS);
  const batchId = request.text('batch_id');
  const changesets = request.array('changesets').map((item, i): ChangesetData => {
    const data = new PayloadStruct(item, `changesets[${i}]`, DATA_KEYS);
    return {
      data: data.bytes('data'),
      sequence: data.uint('sequence'),
      timestamp: data.uint('timestamp'),
    };
  });
  const attestationToken = request.optionalText('attestation_token');
  return attestationToken === undefined
    ? { batchId, changesets }
    : { batchId, changesets, attestationToken };
}

/**
 * ciborium's bytes for the struct: keys batch_id, changesets, [attestation_token] (omitted when
 * absent); each ChangesetData keyed data, sequence, timestamp.
 */
export function encodeChangesetBatchRequest(request: ChangesetBatchRequest): Uint8Array {
  const hasToken = request.attestationToken !== undefined;
  const w = new CborWriter().mapHeader(hasToken ? 3 : 2);
  w.text('batch_id').text(request.batchId);
  w.text('changesets').arrayHeader(request.changesets.length);
  for (const c of request.changesets) {
    w.mapHeader(3);
    w.text('data').bytes(c.data);
    w.text('sequence').uint(c.sequence);
    w.text('timestamp').uint(c.timestamp);
  }
  if (request.attestationToken !== undefined)
    w.text('attestation_token').text(request.attestationToken);
  return w.finish();
}
