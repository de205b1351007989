import { UnknownBatchError } from '../errors';
import type { GcsDirectoryMirror } from './gcs-directory-mirror';

/** One stored batch as served: its range and the exact blob (`zstd(CBOR(batch))`). */
export interface StoredBatch {
  startSequence: bigint;
  endSequence: bigint;
  blob: Uint8Array;
}

/** What a fault did to a published batch; `undefined` means it is served as published. */
type Override = { kind: 'hidden' } | { kind: 'replaced'; endSequence: bigint; blob: Uint8Array };

export interface ReplaceBatchOptions {
  /** Range end to list for the replacement (default: the published end). */
  endSequence?: bigint | number;
}

/**
 * The sequencer's batch storage: in memory, keyed by start sequence (re-publishing a start
 * replaces it, like the Rust in-memory publisher), optionally mirrored to a GCS-layout directory.
 *
 * Besides what the sequencer published, it keeps a fault overlay for tests of hostile storage:
 * a batch can be hidden (a gap), replaced by other bytes (corrupted, re-signed, reordered,
 * oversized, or listed with a different end), and new ranges can be injected. `restore` brings
 * the published bytes back. Everything served over HTTP and written to the directory is the
 * view *with* faults applied.
 */
export class BatchStore {
  private readonly published = new Map<bigint, StoredBatch>();
  private readonly overrides = new Map<bigint, Override>();
  private readonly injected = new Map<bigint, StoredBatch>();

  constructor(
    private readonly mirror: GcsDirectoryMirror | undefined,
    private readonly onMirrorError: (error: unknown) => void,
  ) {}

  /** Called by the batcher for every flushed batch. */
  publish(batch: StoredBatch): void {
    this.published.set(batch.startSequence, batch);
    this.syncMirror(batch.startSequence);
  }

  /** The served batches, sorted by start (what `GET /storage/batches` lists). */
  list(): StoredBatch[] {
    const starts = new Set([...this.published.keys(), ...this.injected.keys()]);
    const out: StoredBatch[] = [];
    for (const start of starts) {
      const batch = this.get(start);
      if (batch !== undefined) out.push(batch);
    }
    return out.sort((a, b) => (a.startSequence < b.startSequence ? -1 : 1));
  }

  /** The served batch that starts exactly at `start`. */
  get(start: bigint): StoredBatch | undefined {
    const override = this.overrides.get(start);
    if (override?.kind === 'hidden') return undefined;
    const base = this.injected.get(start) ?? this.published.get(start);
    if (base === undefined) return undefined;
    if (override?.kind === 'replaced') {
      return { startSequence: start, endSequence: override.endSequence, blob: override.blob };
    }
    return base;
  }

  /** The served batch whose range contains `sequence` (the last one by start, as Rust's index). */
  findContaining(sequence: bigint): StoredBatch | undefined {
    let found: StoredBatch | undefined;
    for (const batch of this.list()) {
      if (batch.startSequence > sequence) break;
      if (sequence <= batch.endSequence) found = batch;
    }
    return found;
  }

  /** Max served end sequence, or null when nothing is served (`GET /storage/latest`). */
  latest(): bigint | null {
    let max: bigint | null = null;
    for (const batch of this.list())
      if (max === null || batch.endSequence > max) max = batch.endSequence;
    return max;
  }

  /** The batch exactly as the sequencer published it, ignoring faults. */
  original(start: bigint | number): StoredBatch | undefined {
    return this.published.get(BigInt(start));
  }

  // ---- fault injection (tests of hostile storage) ----

  /**
   * Serves `transform(copy of the served blob)` instead; e.g. flip a byte, truncate, re-sign.
   * On a hidden batch it transforms the hidden bytes and serves the result again.
   */
  tamper(start: bigint | number, transform: (blob: Uint8Array) => Uint8Array): void {
    const s = BigInt(start);
    const current = this.getOrThrow(s, { includeHidden: true });
    this.setOverride(s, {
      kind: 'replaced',
      endSequence: current.endSequence,
      blob: transform(current.blob.slice()),
    });
  }

  /** Serves `blob` for the batch at `start`, listed with `endSequence` (default: unchanged). */
  replace(start: bigint | number, blob: Uint8Array, options: ReplaceBatchOptions = {}): void {
    const s = BigInt(start);
    const current = this.getOrThrow(s, { includeHidden: true });
    const endSequence =
      options.endSequence === undefined ? current.endSequence : BigInt(options.endSequence);
    this.setOverride(s, { kind: 'replaced', endSequence, blob });
  }

  /** Stops listing and serving the batch (a gap); the published bytes are kept for `unhide`. */
  hide(start: bigint | number): void {
    const s = BigInt(start);
    this.getOrThrow(s, { includeHidden: true });
    this.setOverride(s, { kind: 'hidden' });
  }

  /** Serves a hidden batch again (with any earlier replacement dropped). */
  unhide(start: bigint | number): void {
    this.restore(start);
  }

  /** Adds a batch the sequencer never published (duplicate, overlapping or future ranges). */
  inject(batch: {
    startSequence: bigint | number;
    endSequence: bigint | number;
    blob: Uint8Array;
  }): void {
    const s = BigInt(batch.startSequence);
    this.injected.set(s, {
      startSequence: s,
      endSequence: BigInt(batch.endSequence),
      blob: batch.blob,
    });
    this.overrides.delete(s);
    this.syncMirror(s);
  }

  /** Drops every fault on `start`: the published batch is served again, an injected one vanishes. */
  restore(start: bigint | number): void {
    const s = BigInt(start);
    if (!this.published.has(s) && !this.injected.has(s)) throw new UnknownBatchError(s);
    this.overrides.delete(s);
    this.injected.delete(s);
    this.syncMirror(s);
  }

  /** Drops every fault and injected batch. */
  restoreAll(): void {
    const starts = new Set([...this.overrides.keys(), ...this.injected.keys()]);
    this.overrides.clear();
    this.injected.clear();
    for (const s of starts) this.syncMirror(s);
  }

  private getOrThrow(start: bigint, { includeHidden }: { includeHidden: boolean }): StoredBatch {
    const served = this.get(start);
    if (served !== undefined) return served;
    const base = this.injected.get(start) ?? this.published.get(start);
    if (includeHidden && base !== undefined) return base;
    throw new UnknownBatchError(start);
  }

  private setOverride(start: bigint, override: Override): void {
    this.overrides.set(start, override);
    this.syncMirror(start);
  }

  private syncMirror(start: bigint): void {
    if (this.mirror === undefined) return;
    const served = this.get(start);
    try {
      this.mirror.sync(
        start,
        served === undefined ? undefined : { end: served.endSequence, blob: served.blob },
      );
    } catch (error) {
      // Memory is authoritative for the HTTP API; a failed file write is reported, not fatal.
      this.onMirrorError(error);
    }
  }
}
