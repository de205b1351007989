import { encodeBatch, zstdCompress } from '@synddb/protocol';
import type { SequencerSigner } from '@synddb/verifier';
import type { BatchStore } from './batch-store';

export interface BatcherOptions {
  /** Flush when this many messages are pending (Rust `BATCH_MAX_MESSAGES`, default 50). */
  maxMessages: number;
  /** Flush when the pending COSE bytes reach this size (Rust `BATCH_MAX_BYTES`, default 1 MiB). */
  maxBytes: number;
  /** Flush a non-empty batch this long after its first message arrived (default 5000 ms). */
  flushIntervalMs: number;
  signer: SequencerSigner;
  /** Unix milliseconds (for `created_at`). */
  now: () => number;
  store: BatchStore;
  /** Object name shown as the flush `reference`. */
  referenceOf: (start: bigint, end: bigint) => string;
  /** Called when a timer-driven flush fails (there is no caller to throw to). */
  onError: (error: unknown) => void;
}

/** The result of one flush (`POST /batch/flush` shape, before JSON). */
export interface FlushResult {
  startSequence: bigint;
  endSequence: bigint;
  messageCount: number;
  reference: string;
  compressedBytes: number;
  uncompressedBytes: number;
}

/** Counters behind `GET /batch/stats`. */
export interface BatcherStats {
  batchesPublished: number;
  messagesPublished: number;
  bytesPublished: number;
  bytesUncompressed: number;
  pendingMessages: number;
  pendingBytes: number;
  /** Unix seconds of the last flush, or null before the first one. */
  lastFlushTimestamp: number | null;
}

interface PendingMessage {
  sequence: bigint;
  cose: Uint8Array;
}

/**
 * Collects signed messages and publishes them as signed batches (docs/protocol.md#batching-policy).
 *
 * Everything here is synchronous: `add` is called in the same tick that assigned the message's
 * sequence, so messages enter the batch in sequence order and every batch is a contiguous range
 * (the Rust sequencer hands off asynchronously and can reorder,
 * docs/protocol.md#out-of-order-sequences). A message that would push the pending bytes over
 * `maxBytes` first flushes what is pending; a single message larger than `maxBytes` becomes a
 * batch of its own.
 */
export class Batcher {
  private pending: PendingMessage[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly counters = {
    batchesPublished: 0,
    messagesPublished: 0,
    bytesPublished: 0,
    bytesUncompressed: 0,
    lastFlushTimestamp: null as number | null,
  };

  constructor(private readonly options: BatcherOptions) {}

  add(sequence: bigint, cose: Uint8Array): void {
    const { maxBytes, maxMessages } = this.options;
    if (this.pending.length > 0 && this.pendingBytes + cose.length > maxBytes) this.flush();
    this.pending.push({ sequence, cose });
    this.pendingBytes += cose.length;
    if (this.pending.length >= maxMessages || this.pendingBytes >= maxBytes) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flushFromTimer(), this.options.flushIntervalMs);
      // A pending timer must not keep a process (a test run, the CLI) alive by itself.
      this.timer.unref();
    }
  }

  /** Publishes the pending messages as one batch; null when nothing is pending. */
  flush(): FlushResult | null {
    this.clearTimer();
    if (this.pending.length === 0) return null;
    const messages = this.pending;
    this.pending = [];
    this.pendingBytes = 0;

    const { signer, now, store, referenceOf } = this.options;
    const createdAt = Math.floor(now() / 1000);
    const batch = signer.signBatch(
      messages.map((m) => m.cose),
      { createdAt },
    );
    const cbor = encodeBatch(batch);
    const blob = zstdCompress(cbor, 3);
    store.publish({ startSequence: batch.startSequence, endSequence: batch.endSequence, blob });

    this.counters.batchesPublished += 1;
    this.counters.messagesPublished += messages.length;
    this.counters.bytesPublished += blob.length;
    this.counters.bytesUncompressed += cbor.length;
    this.counters.lastFlushTimestamp = createdAt;
    return {
      startSequence: batch.startSequence,
      endSequence: batch.endSequence,
      messageCount: messages.length,
      reference: referenceOf(batch.startSequence, batch.endSequence),
      compressedBytes: blob.length,
      uncompressedBytes: cbor.length,
    };
  }

  stats(): BatcherStats {
    return {
      ...this.counters,
      pendingMessages: this.pending.length,
      pendingBytes: this.pendingBytes,
    };
  }

  /** Flushes what is pending and stops the interval timer. */
  stop(): FlushResult | null {
    return this.flush();
  }

  private flushFromTimer(): void {
    this.timer = undefined;
    try {
      this.flush();
    } catch (error) {
      this.options.onError(error);
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
