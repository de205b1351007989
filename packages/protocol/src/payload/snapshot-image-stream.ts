import { pipeline } from 'node:stream/promises';
import { readArgument } from '../cbor/cbor-head';
import {
  CborDecodeError,
  CborNestingDepthError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from '../cbor/errors';
import type { SnapshotRequest } from '../types';
import { DEFAULT_MAX_SNAPSHOT_BYTES } from '../zstd/limits';
import { createZstdDecompressStream } from '../zstd/zstd-decompress-stream';
import { PayloadDecodeError } from './errors';
import { decodeSnapshotRequest } from './snapshot-request';

export interface StreamSnapshotImageOptions {
  /** Cap on the decompressed payload (the image and its few fields). Default 4 GiB. */
  maxSnapshotBytes?: number;
  /**
   * Bytes per yielded chunk of the image (the last one may be shorter). Default 1 MiB. Chunks
   * share one buffer: each is valid until the next one is asked for.
   */
  chunkBytes?: number;
  /** Force the pure-JS zstd decoder. Default: node:zlib when available. */
  implementation?: 'native' | 'js';
}

/** The payload's fields other than the image (`snapshot.data` is empty: it was yielded). */
export type SnapshotRequestFields = SnapshotRequest;

/** Fields around the image (keys, ids, the attestation token) may take at most this much. */
const MAX_FIELD_BYTES = 1024 * 1024;
const MAX_DEPTH = 16;
const EMPTY_BSTR = 0x40;

/**
 * Decodes a type-2 payload (zstd-compressed `SnapshotRequest` CBOR, in memory or streaming in,
 * e.g. from the file it was spooled to) without ever holding the image: the payload is
 * decompressed as a stream and the bytes of `snapshot.data` are yielded in
 * chunks as they come out (for a caller that spools them to a file), while everything around them
 * is kept and, at the end, decoded by `decodeSnapshotRequest` with the same strictness as
 * `decodePayload` (keys, types, duplicates, minimal heads, no trailing bytes). The generator's
 * return value is the decoded request with an empty `snapshot.data`.
 *
 * Memory: one chunk of output plus the decoder's window, whatever the image size. A payload that
 * is not a valid snapshot request fails — possibly after image bytes were yielded: a consumer
 * must not use the yielded bytes before the generator has returned.
 */
export async function* streamSnapshotImage(
  compressedPayload: Uint8Array | AsyncIterable<Uint8Array>,
  options: StreamSnapshotImageOptions = {},
): AsyncGenerator<Uint8Array, SnapshotRequestFields, undefined> {
  const maxSnapshotBytes = options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const decompress = createZstdDecompressStream({
    maxOutputBytes: maxSnapshotBytes,
    ...(options.implementation === undefined ? {} : { implementation: options.implementation }),
  });
  const splitter = new SnapshotPayloadSplitter();
  // Output is gathered in one reused buffer: a full one is yielded, and refilled only once the
  // consumer asks for more (by then it has written it out). Fresh buffers per chunk would leave
  // the image's size in garbage for the GC to find.
  const pending = new Uint8Array(chunkBytes);
  let used = 0;
  const emit = (data: Uint8Array) => {
    if (used === chunkBytes) {
      full.push(data);
      return;
    }
    let at = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, chunkBytes - used);
      pending.set(data.subarray(at, at + n), used);
      used += n;
      at += n;
      if (used === chunkBytes) {
        full.push(data.subarray(at));
        return;
      }
    }
  };
  // Output that did not fit: it waits for the yielded buffer to be consumed.
  const full: Uint8Array[] = [];
  try {
    if (compressedPayload instanceof Uint8Array) {
      decompress.end(
        Buffer.from(
          compressedPayload.buffer,
          compressedPayload.byteOffset,
          compressedPayload.byteLength,
        ),
      );
    } else {
      // A payload that streams in (a spooled file): read as the output is consumed. A failure to
      // read it fails the decompression, and so the loop below.
      pipeline(asBuffers(compressedPayload), decompress).catch((error: unknown) =>
        decompress.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    }
    for await (const chunk of decompress as AsyncIterable<Buffer>) {
      splitter.push(chunk, emit);
      while (used === chunkBytes) {
        yield pending;
        used = 0;
        for (const data of full.splice(0)) emit(data);
      }
    }
  } finally {
    decompress.destroy();
  }
  const fields = splitter.finish();
  if (used > 0) yield pending.subarray(0, used);
  return fields;
}

async function* asBuffers(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks)
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

interface Frame {
  /** Items left (a map counts keys and values). */
  remaining: number;
  map: boolean;
  /** Role of this container: the payload map, the `snapshot` map, or anything else. */
  role: 'root' | 'snapshot' | 'other';
  /** Last key read in this map (text keys only). */
  key: string | undefined;
}

type Mode =
  | { kind: 'head' }
  | { kind: 'field'; remaining: number; keyStart: number | undefined }
  | { kind: 'data'; remaining: number }
  | { kind: 'done' };

/**
 * Walks the CBOR of a snapshot request as it streams in: the content of `snapshot.data` goes to
 * `emit`, everything else (with an empty byte string in place of the image) into `fields`, which
 * `finish()` decodes strictly. Heads are checked as `decodeCbor` checks them, so an item the
 * strict decoder would reject never makes the walk go astray.
 */
class SnapshotPayloadSplitter {
  private readonly fields: Uint8Array[] = [];
  private fieldBytes = 0;
  private readonly head = new Uint8Array(9);
  private headUsed = 0;
  private headNeed = 1;
  private mode: Mode = { kind: 'head' };
  private readonly stack: Frame[] = [];
  private offset = 0;
  private dataSeen = false;
  /** Bytes of the text key being read (keys are short). */
  private keyParts: Uint8Array[] = [];

  push(chunk: Uint8Array, emit: (data: Uint8Array) => void): void {
    let i = 0;
    while (i < chunk.length) {
      const mode = this.mode;
      if (mode.kind === 'done') throw new TrailingBytesError(this.offset, chunk.length - i);
      if (mode.kind === 'data' || mode.kind === 'field') {
        const n = Math.min(mode.remaining, chunk.length - i);
        const part = chunk.subarray(i, i + n);
        if (mode.kind === 'data') emit(part);
        else {
          this.keep(part);
          if (mode.keyStart !== undefined) this.keyParts.push(part.slice());
        }
        i += n;
        this.offset += n;
        mode.remaining -= n;
        if (mode.remaining === 0) {
          const key = mode.kind === 'field' && mode.keyStart !== undefined ? this.takeKey() : null;
          this.mode = { kind: 'head' };
          this.completeItem(key);
        }
        continue;
      }
      this.head[this.headUsed++] = chunk[i++]!;
      this.offset++;
      if (this.headUsed === 1) this.headNeed = this.headLength(this.head[0]!);
      if (this.headUsed === this.headNeed) this.onHead();
    }
  }

  finish(): SnapshotRequestFields {
    if (this.mode.kind !== 'done') {
      throw new CborUnexpectedEndError(this.offset, this.headNeed - this.headUsed || 1, 0);
    }
    const bytes = new Uint8Array(this.fieldBytes);
    let at = 0;
    for (const part of this.fields) {
      bytes.set(part, at);
      at += part.length;
    }
    const request = decodeSnapshotRequest(bytes);
    if (!this.dataSeen || request.snapshot.data.length !== 0) {
      throw new PayloadDecodeError('"snapshot.data" must be a byte string', this.offset);
    }
    return request;
  }

  private keep(part: Uint8Array): void {
    this.fieldBytes += part.length;
    if (this.fieldBytes > MAX_FIELD_BYTES) {
      throw new PayloadDecodeError(
        `the snapshot payload's fields other than the image exceed ${MAX_FIELD_BYTES} bytes`,
        this.offset,
      );
    }
    this.fields.push(part.slice());
  }

  private takeKey(): string | undefined {
    const parts = this.keyParts;
    this.keyParts = [];
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(parts));
    } catch {
      return undefined; // invalid UTF-8: the strict decode of the fields reports it
    }
  }

  /** Length of the head that starts with `initial`, rejecting what `decodeCbor` rejects. */
  private headLength(initial: number): number {
    const start = this.offset - 1;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) {
      if (initial === 0xf6) return 1;
      throw new CborUnsupportedItemError(start, 'simple value, float or break');
    }
    if (major === 6) throw new CborUnsupportedItemError(start, 'tag');
    if (info < 24) return 1;
    if (info === 31) throw new CborUnsupportedItemError(start, 'indefinite length');
    if (info > 27) throw new CborDecodeError(`reserved additional information ${info}`, start);
    return 1 + (1 << (info - 24));
  }

  private onHead(): void {
    const head = this.head.subarray(0, this.headNeed);
    const start = this.offset - head.length;
    this.headUsed = 0;
    this.headNeed = 1;
    const major = head[0]! >> 5;
    const value = readArgument(head, start);
    // A container too deep fails as such whatever its count, as in decodeCbor (depth first).
    if ((major === 4 || major === 5) && this.stack.length + 1 > MAX_DEPTH) {
      throw new CborNestingDepthError(start, MAX_DEPTH);
    }
    // Lengths and counts past 2^53 cannot be real (the output is capped far below that).
    if (typeof value === 'bigint' && major >= 2 && major <= 5) {
      throw new CborUnexpectedEndError(start, value, 0);
    }
    const arg = Number(value);
    const parent = this.stack.at(-1);
    const isKey = parent?.map === true && parent.remaining % 2 === 0;
    const isData = major === 2 && parent?.role === 'snapshot' && !isKey && parent.key === 'data';
    if (isData) {
      if (this.dataSeen) throw new DuplicateMapKeyError(start, 'text "data"');
      this.dataSeen = true;
      this.keep(Uint8Array.of(EMPTY_BSTR));
      if (arg > 0) {
        this.mode = { kind: 'data', remaining: arg };
        return;
      }
      this.completeItem(null);
      return;
    }
    this.keep(head);
    if (major === 2 || major === 3) {
      if (arg > MAX_FIELD_BYTES) {
        throw new PayloadDecodeError(
          `a field of ${arg} bytes in the snapshot payload (only "snapshot.data" may be large)`,
          start,
        );
      }
      const keyStart = isKey && major === 3 ? start : undefined;
      if (arg > 0) {
        this.mode = { kind: 'field', remaining: arg, keyStart };
        return;
      }
      this.completeItem(keyStart === undefined ? null : '');
      return;
    }
    if (major === 4 || major === 5) {
      const role =
        parent === undefined
          ? 'root'
          : parent.role === 'root' && !isKey && parent.key === 'snapshot' && major === 5
            ? 'snapshot'
            : 'other';
      const remaining = major === 5 ? arg * 2 : arg;
      if (remaining > 0) {
        this.stack.push({ remaining, map: major === 5, role, key: undefined });
        return;
      }
    }
    this.completeItem(null);
  }

  /** One item ended: count it in its container (and the containers it completes). */
  private completeItem(key: string | undefined | null): void {
    for (;;) {
      const parent = this.stack.at(-1);
      if (parent === undefined) {
        this.mode = { kind: 'done' };
        return;
      }
      if (parent.map && parent.remaining % 2 === 0) parent.key = key ?? undefined;
      parent.remaining--;
      if (parent.remaining > 0) return;
      this.stack.pop();
      key = null;
    }
  }
}
