import { createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { type CborKeptBudget, CborStreamSplitter } from '../cbor/cbor-stream-splitter';
import { CborDecodeError } from '../cbor/errors';
import { decodeProtectedHeader } from '../cose/protected-header';
import { sigStructureHead } from '../cose/sig-structure';
import { createKeccak256, type IncrementalHash } from '../hash/keccak256';
import { type CborBatch, type CoseSign1, MessageType, type ProtectedHeader } from '../types';
import { DecompressionLimitError } from '../zstd/errors';
import { createZstdDecompressStream } from '../zstd/zstd-decompress-stream';
import { decodeBatch } from './decode-batch';
import { EmptyBatchError, InvalidBatchMessageError } from './errors';
import {
  checkBatchMessages,
  checkContentHash,
  checkMessageSigner,
  decodeBatchMessage,
} from './parse-batch';

/** Where a snapshot message's payload goes while the batch streams in (a file, usually). */
export interface PayloadSpool<T> {
  /** The next bytes of the payload; a returned promise is awaited before more is read. */
  write(chunk: Uint8Array): void | Promise<void>;
  /** The payload is complete. */
  end(): void | Promise<void>;
  /** What the caller keeps of it (e.g. the file), handed back in the result. */
  readonly handle: T;
}

export interface ReadBatchStreamOptions<T> {
  /**
   * Cap on what is held in memory: the batch with its snapshot payloads left out (its other
   * messages whole). Past it: `DecompressionLimitError`, as soon as a head announces it.
   */
  maxInMemoryBytes: number;
  /** The error for `maxInMemoryBytes` (given the bytes it would reach). Default `DecompressionLimitError`. */
  inMemoryLimitError?: (bytes: number) => Error;
  /** Cap on the decompressed batch, payloads sent to spools included (`DecompressionLimitError`). */
  maxDecompressedBytes: number;
  /**
   * Called when a snapshot message's payload begins, before any of its bytes are read: where to
   * send them (`payloadBytes` is the exact length, from the payload's head). The caller owns
   * what it opens, and must remove it when the call fails.
   */
  openSpool(message: {
    index: number;
    header: ProtectedHeader;
    payloadBytes: number;
  }): PayloadSpool<T> | Promise<PayloadSpool<T>>;
  /** Force the pure-JS zstd decoder. Default: node:zlib when available. */
  implementation?: 'native' | 'js';
}

/** A message of a streamed batch. */
export interface StreamedBatchMessage<T> {
  /**
   * The message, decoded strictly. For a spooled message, `payload` is empty and `raw` is the
   * message without its payload: the payload is in the spool.
   */
  cose: CoseSign1;
  spooled?: {
    handle: T;
    /** Payload length. */
    bytes: number;
    /** keccak256 of the payload (the protocol's `message_hash`). */
    payloadHash: Uint8Array;
    /** keccak256 of the Sig_structure over the payload: the digest the signature must verify. */
    signingDigest: Uint8Array;
  };
}

/** A batch read by `readBatchStream`: structurally checked, signatures not verified. */
export interface StreamedBatch<T> extends Omit<CborBatch, 'messages'> {
  messages: StreamedBatchMessage<T>[];
  /** Bytes read from the source (the stored blob). */
  compressedBytes: number;
  /** Bytes of the decompressed batch CBOR. */
  decompressedBytes: number;
}

/**
 * A spooled payload may be at most this many times the compressed input read so far (plus
 * `SPOOL_EXPANSION_SLACK`): a snapshot payload is zstd output already, which the batch's own
 * zstd layer cannot shrink, so a batch that expands it more is a bomb, stopped long before the
 * caps, which are sized for disk.
 */
const MAX_SPOOL_EXPANSION = 4;
const SPOOL_EXPANSION_SLACK = 64 * 1024 * 1024;

/**
 * Reads a stored batch blob (`zstd(CBOR(batch))`) as it streams in, for batches too large to hold
 * (a snapshot travels in one batch): the blob is decompressed as a stream, the batch map walked as
 * it comes out, and the payload of every snapshot message (type 2, known from its protected
 * header, which precedes it) sent to a spool from `openSpool` while the content hash, the
 * payload's hash and its signing digest are computed over it. Everything else is kept, within
 * `maxInMemoryBytes`, and decoded at the end with the same strictness as `decodeBatchBlob`
 * (`decodeBatch`, then `parseBatch`'s checks: content hash, every message strictly, signer
 * binding, contiguous sequences), with the same errors.
 *
 * Memory: what is kept, plus the zstd window and a chunk in flight, whatever the payloads' size.
 * Signatures are not verified here (`@synddb/verifier`'s `verifyStreamedBatch`): nothing sent to
 * a spool may be used before they are.
 */
export async function readBatchStream<T>(
  source: AsyncIterable<Uint8Array>,
  options: ReadBatchStreamOptions<T>,
): Promise<StreamedBatch<T>> {
  const budget: CborKeptBudget = {
    used: 0,
    max: options.maxInMemoryBytes,
    tooLarge: (wanted) =>
      options.inMemoryLimitError?.(budget.used + wanted) ??
      new DecompressionLimitError(
        options.maxInMemoryBytes,
        `the batch's content held in memory (everything but snapshot payloads) would reach ${budget.used + wanted} bytes`,
      ),
  };
  const contentHash = createHash('sha256');
  const readers: MessageReader<T>[] = [];
  const progress = { compressed: 0, decompressed: 0, spooled: 0 };
  const batch = new CborStreamSplitter({
    budget,
    maxDepth: 2,
    route(frames) {
      // The items of `m`, the messages: each is walked by its own reader as it streams past.
      const [root, m] = frames;
      if (frames.length !== 2 || !root!.map || root!.key !== 'm' || m!.map) return undefined;
      const reader = new MessageReader(readers.length, {
        budget,
        contentHash,
        progress,
        options,
      });
      readers.push(reader);
      return { sink: (chunk) => reader.push(chunk), end: () => reader.end() };
    },
  });
  const decompress = createZstdDecompressStream({
    maxOutputBytes: options.maxDecompressedBytes,
    ...(options.implementation === undefined ? {} : { implementation: options.implementation }),
  });
  await pipeline(
    async function* counted() {
      for await (const chunk of source) {
        progress.compressed += chunk.byteLength;
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    },
    decompress,
    async (decompressed: AsyncIterable<Buffer>) => {
      for await (const chunk of decompressed) {
        progress.decompressed += chunk.length;
        await batch.push(chunk);
      }
    },
  );

  // The checks of decodeBatchBlob, in its order.
  const decoded = decodeBatch(batch.finish());
  if (readers.length === 0) throw new EmptyBatchError(decoded.startSequence, decoded.endSequence);
  checkContentHash(decoded.contentHash, new Uint8Array(contentHash.digest()));
  // Every item of `m` was routed to a reader (and `decodeBatch` refuses a second `m`).
  const messages = readers.map((reader, index) => {
    const message = reader.result();
    checkMessageSigner(decoded.pubkey, message.cose, index);
    return message;
  });
  checkBatchMessages(
    decoded,
    messages.map((m) => m.cose),
  );
  const { messages: _placeholders, ...fields } = decoded;
  return {
    ...fields,
    messages,
    compressedBytes: progress.compressed,
    decompressedBytes: progress.decompressed,
  };
}

interface MessageReaderContext<T> {
  budget: CborKeptBudget;
  contentHash: Hash;
  progress: { compressed: number; decompressed: number; spooled: number };
  options: ReadBatchStreamOptions<T>;
}

/** One message (a COSE_Sign1 array) as it streams past: kept, except a snapshot payload. */
class MessageReader<T> {
  private readonly splitter: CborStreamSplitter;
  private readonly protectedParts: Uint8Array[] = [];
  private spool:
    | {
        target: PayloadSpool<T>;
        bytes: number;
        payloadHash: IncrementalHash;
        signingHash: IncrementalHash;
      }
    | undefined;
  private skeleton: Uint8Array | undefined;
  /** Why the message does not decode, found while it streamed past. */
  private failure: unknown;

  constructor(
    private readonly index: number,
    private readonly ctx: MessageReaderContext<T>,
  ) {
    this.splitter = new CborStreamSplitter({
      budget: ctx.budget,
      // array -> unprotected map -> its values, as decodeCoseSign1
      maxDepth: 3,
      route: (frames, payloadBytes) => {
        if (frames.length !== 1 || frames[0]!.map) return undefined;
        // The protected header: kept, and looked at when the payload begins.
        if (frames[0]!.index === 0) {
          return { keep: true, sink: (chunk) => void this.protectedParts.push(chunk.slice()) };
        }
        if (frames[0]!.index === 2) return this.routePayload(payloadBytes);
        return undefined;
      },
    });
  }

  async push(chunk: Uint8Array): Promise<void> {
    this.ctx.contentHash.update(chunk);
    if (this.failure !== undefined) return;
    try {
      await this.splitter.push(chunk);
    } catch (error) {
      // Reported in batch order, after the content hash (as decodeBatchBlob does); caps and
      // spool failures at once.
      if (!(error instanceof CborDecodeError)) throw error;
      this.failure = error;
    }
  }

  end(): void {
    if (this.failure !== undefined) return;
    try {
      this.skeleton = this.splitter.finish();
    } catch (error) {
      this.failure = error;
    }
  }

  /** The decoded message, once the batch is complete. */
  result(): StreamedBatchMessage<T> {
    if (this.failure !== undefined) throw new InvalidBatchMessageError(this.index, this.failure);
    if (this.skeleton === undefined) throw new InvalidBatchMessageError(this.index, 'incomplete');
    const cose = decodeBatchMessage(this.skeleton, this.index);
    const spool = this.spool;
    if (spool === undefined) return { cose };
    // The payload was routed by the header these same bytes decode to; only its place is empty.
    if (cose.payload.length !== 0 || cose.header.messageType !== MessageType.Snapshot) {
      throw new InvalidBatchMessageError(this.index, 'spooled payload out of place');
    }
    return {
      cose,
      spooled: {
        handle: spool.target.handle,
        bytes: spool.bytes,
        payloadHash: spool.payloadHash.digest(),
        signingDigest: spool.signingHash.digest(),
      },
    };
  }

  private async routePayload(payloadBytes: number) {
    let header: ProtectedHeader;
    try {
      header = decodeProtectedHeader(Buffer.concat(this.protectedParts));
    } catch {
      return undefined; // kept; the strict decode of the message reports it
    }
    if (header.messageType !== MessageType.Snapshot) return undefined;
    const { options, progress } = this.ctx;
    if (payloadBytes > options.maxDecompressedBytes) {
      throw new DecompressionLimitError(
        options.maxDecompressedBytes,
        `message ${this.index} announces a ${payloadBytes}-byte snapshot payload`,
      );
    }
    const protectedBytes = Buffer.concat(this.protectedParts);
    const signingHash = createKeccak256();
    signingHash.update(sigStructureHead(protectedBytes, payloadBytes));
    const spool = {
      target: await options.openSpool({ index: this.index, header, payloadBytes }),
      bytes: 0,
      payloadHash: createKeccak256(),
      signingHash,
    };
    this.spool = spool;
    return {
      sink: (chunk: Uint8Array) => {
        spool.bytes += chunk.length;
        progress.spooled += chunk.length;
        const bound = MAX_SPOOL_EXPANSION * progress.compressed + SPOOL_EXPANSION_SLACK;
        if (progress.spooled > bound) {
          throw new DecompressionLimitError(
            bound,
            `snapshot payloads reached ${progress.spooled} bytes from ${progress.compressed} compressed bytes (a payload is zstd output: the batch's own zstd layer cannot expand it more than ${MAX_SPOOL_EXPANSION}x)`,
          );
        }
        spool.payloadHash.update(chunk);
        spool.signingHash.update(chunk);
        return spool.target.write(chunk);
      },
      end: () => spool.target.end(),
    };
  }
}
