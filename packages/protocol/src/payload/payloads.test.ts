import { describe, expect, it } from 'vitest';
import { hex, vectors } from '../../test/vectors';
import { CborWriter } from '../cbor/cbor-writer';
import { DuplicateMapKeyError, TrailingBytesError } from '../cbor/errors';
import { InvalidMessageTypeError } from '../errors';
import { MessageType } from '../types';
import { DecompressionLimitError } from '../zstd/errors';
import { zstdCompress } from '../zstd/zstd-compress';
import {
  decodeChangesetBatchRequest,
  encodeChangesetBatchRequest,
} from './changeset-batch-request';
import { decodePayload } from './decode-payload';
import { PayloadDecodeError } from './errors';
import { decodeSnapshotRequest, encodeSnapshotRequest } from './snapshot-request';
import { decodeWithdrawalRequest } from './withdrawal-request';

const [changesetVector] = vectors.v4_pipeline.messages;

describe('payload decoding follows serde where the sequencer could emit it', () => {
  it('ignores unknown keys (forward compatible), still validating their CBOR', () => {
    const cbor = new CborWriter()
      .mapHeader(3)
      .text('future')
      .arrayHeader(1)
      .uint(1)
      .text('batch_id')
      .text('b')
      .text('changesets')
      .arrayHeader(0)
      .finish();
    expect(decodeChangesetBatchRequest(cbor)).toEqual({ batchId: 'b', changesets: [] });
  });

  it('treats a null attestation_token as absent, and round-trips a present one', () => {
    const cbor = new CborWriter()
      .mapHeader(3)
      .text('batch_id')
      .text('b')
      .text('changesets')
      .arrayHeader(0)
      .text('attestation_token')
      .null()
      .finish();
    expect(decodeChangesetBatchRequest(cbor)).toEqual({ batchId: 'b', changesets: [] });
    const withToken = { batchId: 'b', changesets: [], attestationToken: 'jwt' };
    expect(decodeChangesetBatchRequest(encodeChangesetBatchRequest(withToken))).toEqual(withToken);
  });

  it('defaults a missing withdrawal data to empty', () => {
    const cbor = new CborWriter()
      .mapHeader(3)
      .text('request_id')
      .text('r')
      .text('recipient')
      .text('0x00')
      .text('amount')
      .text('1')
      .finish();
    expect(decodeWithdrawalRequest(cbor).data).toEqual(new Uint8Array(0));
  });

  it('snapshot without token encodes as map(2)', () => {
    const req = {
      snapshot: { data: new Uint8Array([1]), timestamp: 1n, sequence: 2n },
      messageId: 'm',
    };
    const cbor = encodeSnapshotRequest(req);
    expect(cbor[0]).toBe(0xa2);
    expect(decodeSnapshotRequest(cbor)).toEqual(req);
  });
});

describe('payload decoding rejects', () => {
  it('missing required fields and wrong types', () => {
    const missing = new CborWriter().mapHeader(1).text('batch_id').text('b').finish();
    expect(() => decodeChangesetBatchRequest(missing)).toThrow(PayloadDecodeError);
    const textData = new CborWriter()
      .mapHeader(2)
      .text('batch_id')
      .text('b')
      .text('changesets')
      .arrayHeader(1)
      .mapHeader(3)
      .text('data')
      .text('aGVsbG8=')
      .text('sequence')
      .uint(0)
      .text('timestamp')
      .uint(0)
      .finish();
    expect(() => decodeChangesetBatchRequest(textData)).toThrow(PayloadDecodeError);
    const negativeSeq = new CborWriter()
      .mapHeader(2)
      .text('snapshot')
      .mapHeader(3)
      .text('data')
      .bytes(new Uint8Array(0))
      .text('timestamp')
      .uint(0)
      .text('sequence')
      .int(-1)
      .text('message_id')
      .text('m')
      .finish();
    expect(() => decodeSnapshotRequest(negativeSeq)).toThrow(PayloadDecodeError);
    expect(() => decodeWithdrawalRequest(new CborWriter().arrayHeader(0).finish())).toThrow(
      PayloadDecodeError,
    );
    expect(() =>
      decodeWithdrawalRequest(new CborWriter().mapHeader(1).uint(1).uint(1).finish()),
    ).toThrow(PayloadDecodeError);
  });

  it('duplicate keys (serde derive rejects duplicate fields) and trailing bytes', () => {
    const dup = new CborWriter()
      .mapHeader(3)
      .text('batch_id')
      .text('a')
      .text('batch_id')
      .text('b')
      .text('changesets')
      .arrayHeader(0)
      .finish();
    expect(() => decodeChangesetBatchRequest(dup)).toThrow(DuplicateMapKeyError);
    const cbor = hex(changesetVector.payload_cbor);
    expect(() => decodeChangesetBatchRequest(new Uint8Array([...cbor, 0]))).toThrow(
      TrailingBytesError,
    );
  });
});

describe('decodePayload', () => {
  it('applies a separate cap to snapshots', () => {
    const snapshot = zstdCompress(
      encodeSnapshotRequest({
        snapshot: { data: new Uint8Array(1 << 20), timestamp: 0n, sequence: 0n },
        messageId: 'm',
      }),
    );
    expect(() => decodePayload(MessageType.Snapshot, snapshot, { maxSnapshotBytes: 1000 })).toThrow(
      DecompressionLimitError,
    );
    // The non-snapshot cap does not apply to snapshots.
    expect(decodePayload(MessageType.Snapshot, snapshot, { maxDecompressedBytes: 1000 }).type).toBe(
      2,
    );
  });

  it('decodes by the given type only', () => {
    const changeset = hex(changesetVector.payload_zstd);
    expect(() => decodePayload(MessageType.Withdrawal, changeset)).toThrow(PayloadDecodeError);
    expect(() => decodePayload(7 as MessageType, changeset)).toThrow(InvalidMessageTypeError);
  });
});
