import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CborWriter } from '../cbor/cbor-writer';
import { DuplicateMapKeyError, TrailingBytesError } from '../cbor/errors';
import { buildSigStructure, messageSigningDigest } from '../cose/sig-structure';
import { keccak256 } from '../hash/keccak256';
import { DecompressionError, DecompressionLimitError } from '../zstd/errors';
import { zstdCompress } from '../zstd/zstd-compress';
import { zstdDecompress } from '../zstd/zstd-decompress';
import { type StreamSnapshotImageOptions, streamSnapshotImage } from './snapshot-image-stream';
import { decodeSnapshotRequest, encodeSnapshotRequest } from './snapshot-request';

/** Drains the stream: the image (joined) and the fields it returned. */
async function drain(
  compressed: Uint8Array | AsyncIterable<Uint8Array>,
  options: StreamSnapshotImageOptions = {},
) {
  const chunks: Buffer[] = [];
  const stream = streamSnapshotImage(compressed, options);
  for (;;) {
    const next = await stream.next();
    if (next.done) return { image: Buffer.concat(chunks), fields: next.value };
    chunks.push(Buffer.from(next.value)); // chunks share one buffer: copy each
  }
}

/** What the whole-buffer decoder says: the request, or the error's class name. */
function reference(cbor: Uint8Array) {
  try {
    return { ok: decodeSnapshotRequest(cbor) };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

async function streamed(cbor: Uint8Array, options: StreamSnapshotImageOptions = {}) {
  try {
    return { ok: await drain(zstdCompress(cbor), options) };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

const image = (bytes: number) => {
  const out = randomBytes(bytes);
  if (bytes >= 16) out.set(Buffer.from('SQLite format 3\0', 'latin1'), 0);
  return new Uint8Array(out);
};

describe('streamSnapshotImage', () => {
  it('reads a payload that streams in (a spooled file) as one in memory', async () => {
    const data = image(300_000);
    const payload = zstdCompress(
      encodeSnapshotRequest({
        snapshot: { data, timestamp: 1n, sequence: 2n },
        messageId: 'spooled',
      }),
    );
    async function* pieces(bytes: Uint8Array) {
      for (let at = 0; at < bytes.length; at += 1000) yield bytes.subarray(at, at + 1000);
    }
    const { image: out, fields } = await drain(pieces(payload));
    expect(Buffer.compare(out, data)).toBe(0);
    expect(fields.messageId).toBe('spooled');
    // A payload cut short fails as it does in memory, and so does a source that fails.
    await expect(drain(pieces(payload.subarray(0, payload.length - 10)))).rejects.toBeInstanceOf(
      DecompressionError,
    );
    async function* failing() {
      yield payload.subarray(0, 1000);
      throw new Error('read failed');
    }
    await expect(drain(failing())).rejects.toThrow('read failed');
  });

  it('yields exactly the image and returns the other fields, in chunks of any size', async () => {
    const data = image(300_000);
    const cbor = encodeSnapshotRequest({
      snapshot: { data, timestamp: 1700000000n, sequence: 100n },
      messageId: 'snap-1',
      attestationToken: 'token123',
    });
    for (const chunkBytes of [1, 7, 4096, 1 << 20]) {
      const { image: out, fields } = await drain(zstdCompress(cbor), { chunkBytes });
      expect(Buffer.compare(out, data)).toBe(0);
      expect(fields.messageId).toBe('snap-1');
      expect(fields.attestationToken).toBe('token123');
      expect(fields.snapshot.timestamp).toBe(1700000000n);
      expect(fields.snapshot.sequence).toBe(100n);
      expect(fields.snapshot.data.length).toBe(0);
    }
  });

  it('accepts the keys in any order, as the whole-buffer decoder does', async () => {
    const data = image(5000);
    const w = new CborWriter().mapHeader(2);
    w.text('message_id').text('m');
    w.text('snapshot').mapHeader(3);
    w.text('sequence').uint(7n);
    w.text('data').bytes(data);
    w.text('timestamp').uint(2n ** 64n - 1n);
    const { image: out, fields } = await drain(zstdCompress(w.finish()));
    expect(Buffer.compare(out, data)).toBe(0);
    expect(fields.snapshot.timestamp).toBe(2n ** 64n - 1n);
  });

  it('an empty image streams nothing and still decodes', async () => {
    const cbor = encodeSnapshotRequest({
      snapshot: { data: new Uint8Array(0), timestamp: 0n, sequence: 0n },
      messageId: 'e',
    });
    const { image: out } = await drain(zstdCompress(cbor));
    expect(out.length).toBe(0);
  });

  it('fails like decodeSnapshotRequest on every single-byte mutation of a small payload', async () => {
    const cbor = encodeSnapshotRequest({
      snapshot: { data: image(40), timestamp: 5n, sequence: 6n },
      messageId: 'id',
      attestationToken: 't',
    });
    for (let at = 0; at < cbor.length; at++) {
      // The image's own bytes are opaque to both decoders.
      if (at >= 17 && at < 57) continue;
      for (const value of [0x00, 0x18, 0x40, 0x5f, 0x7f, 0xa1, 0xc0, 0xf5, 0xff, cbor[at]! ^ 1]) {
        const mutated = cbor.slice();
        mutated[at] = value;
        const want = reference(mutated);
        const got = await streamed(mutated, { chunkBytes: 16 });
        expect(got.error !== undefined, `byte ${at} = ${value}`).toBe(want.error !== undefined);
        if (want.ok !== undefined && got.ok !== undefined) {
          expect(Buffer.compare(got.ok.image, want.ok.snapshot.data)).toBe(0);
          expect(got.ok.fields.messageId).toBe(want.ok.messageId);
        }
      }
    }
  });

  it('reports a container past the depth limit as decodeSnapshotRequest does, even with a count past 2^53', async () => {
    // {"x": [[[...[ map with an 8-byte count ]...]]]}: the map one level past the limit (16).
    const deep = Uint8Array.of(
      0xa1,
      0x61,
      0x78,
      ...new Array<number>(15).fill(0x81),
      0xbb,
      0x73,
      0x0a,
      0x61,
      0x65,
      0,
      0,
      0,
      1,
    );
    const want = reference(deep);
    expect(want.error).toBe('CborNestingDepthError');
    expect(await streamed(deep, { chunkBytes: 5 })).toEqual(want);
  });

  it('rejects trailing bytes, a duplicated image and a truncated payload', async () => {
    const cbor = encodeSnapshotRequest({
      snapshot: { data: image(2000), timestamp: 1n, sequence: 1n },
      messageId: 'x',
    });
    await expect(drain(zstdCompress(Buffer.concat([cbor, Buffer.of(0)])))).rejects.toBeInstanceOf(
      TrailingBytesError,
    );
    const w = new CborWriter().mapHeader(2);
    w.text('snapshot').mapHeader(4);
    w.text('data').bytes(image(10));
    w.text('data').bytes(image(10));
    w.text('timestamp').uint(1n);
    w.text('sequence').uint(1n);
    w.text('message_id').text('x');
    await expect(drain(zstdCompress(w.finish()))).rejects.toBeInstanceOf(DuplicateMapKeyError);
    // CBOR cut short (inside the image, then inside the fields after it)
    for (const keep of [1000, cbor.length - 3]) {
      await expect(drain(zstdCompress(cbor.subarray(0, keep)))).rejects.toThrow();
    }
    // a zstd frame cut short
    const compressed = zstdCompress(cbor);
    await expect(drain(compressed.subarray(0, compressed.length - 5))).rejects.toBeInstanceOf(
      DecompressionError,
    );
  });

  it('stops at the size cap', async () => {
    const cbor = encodeSnapshotRequest({
      snapshot: { data: image(100_000), timestamp: 1n, sequence: 1n },
      messageId: 'x',
    });
    await expect(drain(zstdCompress(cbor), { maxSnapshotBytes: 50_000 })).rejects.toBeInstanceOf(
      DecompressionLimitError,
    );
  });
});

describe('large payloads are not copied to be hashed or decompressed', () => {
  it('messageSigningDigest hashes a large payload in place, with the same digest', () => {
    const protectedBytes = Uint8Array.of(0xa1, 0x01, 0x38, 0x2e);
    for (const size of [64 * 1024 - 1, 64 * 1024, 300_000]) {
      const payload = new Uint8Array(randomBytes(size));
      expect(messageSigningDigest(protectedBytes, payload)).toEqual(
        keccak256(buildSigStructure(protectedBytes, payload)),
      );
    }
  });

  it('zstdDecompress of a large frame returns the same bytes (one output buffer)', () => {
    const input = new Uint8Array(randomBytes(3 * 1024 * 1024));
    const out = zstdDecompress(zstdCompress(input), { maxOutputBytes: 4 * 1024 * 1024 });
    expect(Buffer.compare(out, input)).toBe(0);
    expect(() => zstdDecompress(zstdCompress(input), { maxOutputBytes: 2 * 1024 * 1024 })).toThrow(
      DecompressionLimitError,
    );
  });
});
