import { CborWriter } from '../cbor/cbor-writer';
import { decodeCbor } from '../cbor/decode-cbor';
import type { SnapshotRequest } from '../types';
import { PayloadStruct } from './fields';

const REQUEST_KEYS = ['snapshot', 'message_id', 'attestation_token'] as const;
const DATA_KEYS = ['data', 'timestamp', 'sequence'] as const;

/**
 * Decodes a type-2 payload (docs/protocol.md#snapshot-payload). `snapshot.data` is a view into
 * `cbor`.
 */
export function decodeSnapshotRequest(cbor: Uint8Array): SnapshotRequest {
  const request = new PayloadStruct(decodeCbor(cbor), 'SnapshotRequest', REQUEST_KEYS);
  const data = request.struct('snapshot', DATA_KEYS);
  const snapshot = {
    data: data.bytes('data'),
    timestamp: data.uint('timestamp'),
    sequence: data.uint('sequence'),
  };
  const messageId = request.text('message_id');
  const attestationToken = request.optionalText('attestation_token');
  return attestationToken === undefined
    ? { snapshot, messageId }
    : { snapshot, messageId, attestationToken };
}

/**
 * ciborium's bytes: keys snapshot, message_id, [attestation_token]; SnapshotData keyed
 * data, timestamp, sequence (note: not the ChangesetData order).
 */
export function encodeSnapshotRequest(request: SnapshotRequest): Uint8Array {
  const hasToken = request.attestationToken !== undefined;
  const w = new CborWriter().mapHeader(hasToken ? 3 : 2);
  w.text('snapshot').mapHeader(3);
  w.text('data').bytes(request.snapshot.data);
  w.text('timestamp').uint(request.snapshot.timestamp);
  w.text('sequence').uint(request.snapshot.sequence);
  w.text('message_id').text(request.messageId);
  if (request.attestationToken !== undefined)
    w.text('attestation_token').text(request.attestationToken);
  return w.finish();
}
