import { describe, expect, it } from 'vitest';
import { batchOf, message } from '../../test/builders';
import { hex, vectors } from '../../test/vectors';
import { CoseStructureError } from '../cose/errors';
import { decodeBatchBlob, encodeBatchBlob } from './batch-blob';
import { decodeBatch } from './decode-batch';
import { encodeBatch } from './encode-batch';
import {
  BatchRangeMismatchError,
  BatchSignerMismatchError,
  ContentHashMismatchError,
  EmptyBatchError,
  InvalidBatchMessageError,
  SequenceNotContiguousError,
} from './errors';
import { parseBatch } from './parse-batch';

const three = (seqs: bigint[]) => seqs.map((s) => message(s));

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('parseBatch', () => {
  it('accepts a consistent batch and keeps the raw message bytes', () => {
    const msgs = three([5n, 6n, 7n]);
    const parsed = parseBatch(batchOf(msgs, { s: 5n, e: 7n }));
    expect(parsed.parsedMessages.map((m) => m.header.sequence)).toEqual([5n, 6n, 7n]);
    expect(parsed.parsedMessages[1]!.raw).toBe(msgs[1]);
  });

  it('rejects an empty batch (Rust would accept it under any key)', () => {
    const e = caught(() => parseBatch(batchOf([], { s: 0n, e: 0n })));
    expect(e).toBeInstanceOf(EmptyBatchError);
    expect((e as EmptyBatchError).code).toBe('BATCH_EMPTY');
  });

  it('rejects a content hash mismatch', () => {
    const b = batchOf(three([0n, 1n, 2n]), { s: 0n, e: 2n });
    b.contentHash = new Uint8Array(32);
    expect(() => parseBatch(b)).toThrow(ContentHashMismatchError);
  });

  it('rejects s != first sequence', () => {
    expect(() => parseBatch(batchOf(three([1n, 2n, 3n]), { s: 0n, e: 3n }))).toThrow(
      BatchRangeMismatchError,
    );
  });

  it('rejects e != last sequence', () => {
    expect(() => parseBatch(batchOf(three([1n, 2n, 3n]), { s: 1n, e: 4n }))).toThrow(
      BatchRangeMismatchError,
    );
    expect(() => parseBatch(batchOf(three([1n, 2n, 3n]), { s: 1n, e: 2n }))).toThrow(
      BatchRangeMismatchError,
    );
  });

  it('rejects gaps, duplicates and out-of-order sequences', () => {
    for (const seqs of [
      [1n, 2n, 4n],
      [1n, 1n, 2n],
      [1n, 3n, 2n],
    ]) {
      const e = caught(() => parseBatch(batchOf(three(seqs), { s: 1n, e: seqs[2]! })));
      expect(e, seqs.join(',')).toBeInstanceOf(SequenceNotContiguousError);
    }
    const e = caught(() => parseBatch(batchOf(three([1n, 2n, 4n]), { s: 1n, e: 4n })));
    expect(e).toMatchObject({
      index: 2,
      expected: 3n,
      actual: 4n,
      code: 'SEQUENCE_NOT_CONTIGUOUS',
    });
  });

  it('rejects a message signed by another key than the batch key', () => {
    const other = new Uint8Array(64).fill(9);
    const msgs = [message(0n), message(1n, { pubkey: other })];
    const e = caught(() => parseBatch(batchOf(msgs, { s: 0n, e: 1n })));
    expect(e).toBeInstanceOf(BatchSignerMismatchError);
    expect((e as BatchSignerMismatchError).index).toBe(1);
  });

  it('wraps an invalid message with its index and the precise cause', () => {
    const msgs = [message(0n), new Uint8Array([0xd2, ...message(1n)])];
    const e = caught(() => parseBatch(batchOf(msgs, { s: 0n, e: 1n })));
    expect(e).toBeInstanceOf(InvalidBatchMessageError);
    expect((e as InvalidBatchMessageError).index).toBe(1);
    expect((e as InvalidBatchMessageError).cause).toBeInstanceOf(CoseStructureError);
  });
});

describe('batch blob', () => {
  it('round-trips through zstd', () => {
    const b = batchOf(three([10n, 11n, 12n]), { s: 10n, e: 12n });
    const blob = encodeBatchBlob(b);
    expect([...blob.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    const decoded = decodeBatchBlob(blob);
    expect(encodeBatch(decoded)).toEqual(encodeBatch(b));
  });

  it('honours the decompression cap', () => {
    const blob = hex(vectors.v4_pipeline.batch_cbor_zstd);
    expect(() => decodeBatchBlob(blob, { maxDecompressedBytes: 100 })).toThrow(/exceeds the limit/);
    expect(decodeBatchBlob(blob, { maxDecompressedBytes: 1008 }).messages.length).toBe(3);
  });

  it('every truncation of the V4 batch CBOR fails with a typed error', () => {
    const cbor = hex(vectors.v4_pipeline.batch_cbor);
    for (let n = 0; n < cbor.length; n++) {
      const e = caught(() => parseBatch(decodeBatch(cbor.subarray(0, n))));
      expect((e as { code?: string }).code, `length ${n}`).toMatch(/^[A-Z_]+$/);
    }
  });
});
