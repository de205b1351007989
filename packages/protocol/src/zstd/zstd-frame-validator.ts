import { DecompressionError, DecompressionLimitError } from './errors';
import { MAX_WINDOW_SIZE } from './limits';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const MAX_BLOCK_SIZE = 128 * 1024;

export interface ZstdFrameSpan {
  start: number;
  end: number;
  skippable: boolean;
  /** Window the frame needs (0 for skippable frames). */
  windowSize: number;
  /** The frame header declares its content size. */
  declaresContentSize: boolean;
  /**
   * Most bytes the frame can decompress to, from its block headers (a raw or RLE block its size,
   * a compressed block its limit); 0 for skippable frames.
   */
  maxOutputBytes: number;
}

type State =
  | { kind: 'magic' }
  | { kind: 'skippable-size' }
  | { kind: 'descriptor' }
  | { kind: 'header-rest'; descriptor: number; length: number }
  | { kind: 'block-header' }
  | { kind: 'skip'; remaining: number; then: 'block-header' | 'frame-end' | 'checksum' }
  | { kind: 'checksum' };

/**
 * Incremental checker of zstd frame and block headers (RFC 8878); it decompresses nothing. Fed
 * the compressed bytes before a decoder sees them, it rejects what a decoder must not be given:
 * bad magic, reserved bits or block types, dictionaries, windows above 2^27 (which bound decoder
 * memory), oversized blocks, a declared content size above the output cap, and — at `finish()` —
 * truncation or an input with no data frame. Trailing garbage after the last frame fails as a
 * bad magic (node:zlib alone would silently ignore it).
 */
export class ZstdFrameValidator {
  readonly frames: ZstdFrameSpan[] = [];
  private state: State = { kind: 'magic' };
  private readonly field = new Uint8Array(16);
  private fieldUsed = 0;
  private offset = 0;
  private frameStart = 0;
  private windowSize = 0;
  private blockLimit = 0;
  private hasChecksum = false;
  private declaresContentSize = false;
  /** Sum of the current frame's block output bounds. */
  private frameOutputBound = 0;
  private declaredTotal = 0;
  /** Inside a skippable frame (its header fields are not emitted). */
  private inSkippable = false;
  private emitMagic: ((bytes: Uint8Array) => void) | undefined;
  /** Whether the bytes being skipped belong to a skippable frame (vs. a block body). */
  private pendingSkippable = false;

  constructor(private readonly maxOutputBytes: number) {}

  /**
   * Checks the next bytes. `emit`, when given, receives exactly the bytes of data frames (skippable
   * frames removed) so a decoder that stops at skippable frames (node:zlib) can be fed safely.
   */
  push(chunk: Uint8Array, emit?: (bytes: Uint8Array) => void): void {
    this.emitMagic = emit;
    let i = 0;
    while (i < chunk.length) {
      const state = this.state;
      if (state.kind === 'skip') {
        const n = Math.min(state.remaining, chunk.length - i);
        if (emit && !this.pendingSkippable) emit(chunk.subarray(i, i + n));
        i += n;
        this.offset += n;
        state.remaining -= n;
        if (state.remaining === 0) this.afterSkip(state.then);
        continue;
      }
      const need = this.fieldLength(state);
      const n = Math.min(need - this.fieldUsed, chunk.length - i);
      this.field.set(chunk.subarray(i, i + n), this.fieldUsed);
      // Magic bytes are held back until it is known whether the frame is skippable.
      if (emit && state.kind !== 'magic' && !this.inSkippable) emit(chunk.subarray(i, i + n));
      this.fieldUsed += n;
      i += n;
      this.offset += n;
      if (this.fieldUsed === need) {
        this.fieldUsed = 0;
        this.onField(state);
      }
    }
  }

  /** Call after the last chunk; returns the frames found. */
  finish(): ZstdFrameSpan[] {
    if (this.offset === 0) throw new DecompressionError('empty zstd input');
    if (this.state.kind !== 'magic' || this.fieldUsed !== 0) {
      throw new DecompressionError('truncated zstd input', {
        details: `input ends at offset ${this.offset} inside the frame starting at ${this.frameStart}`,
      });
    }
    if (!this.frames.some((f) => !f.skippable))
      throw new DecompressionError('zstd input holds no data frame');
    return this.frames;
  }

  private fieldLength(state: Exclude<State, { kind: 'skip' }>): number {
    switch (state.kind) {
      case 'magic':
      case 'skippable-size':
      case 'checksum':
        return 4;
      case 'descriptor':
        return 1;
      case 'header-rest':
        return state.length;
      case 'block-header':
        return 3;
    }
  }

  private onField(state: Exclude<State, { kind: 'skip' }>): void {
    const f = this.field;
    switch (state.kind) {
      case 'magic': {
        this.frameStart = this.offset - 4;
        const magic = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
        if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
          this.inSkippable = true;
          this.state = { kind: 'skippable-size' };
        } else if (magic === ZSTD_MAGIC) {
          this.emitMagic?.(f.slice(0, 4));
          this.state = { kind: 'descriptor' };
        } else {
          throw new DecompressionError('not a zstd frame', {
            details: `offset ${this.frameStart}: magic 0x${magic.toString(16).padStart(8, '0')}`,
          });
        }
        return;
      }
      case 'skippable-size': {
        const size = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
        this.windowSize = 0;
        this.enterSkip(size, 'frame-end', true);
        return;
      }
      case 'descriptor': {
        const d = f[0]!;
        if (d & 0x08) this.fail('reserved bit set in zstd frame header');
        const singleSegment = (d >> 5) & 1;
        const fcsFlag = d >> 6;
        const length =
          (singleSegment ? 0 : 1) +
          [0, 1, 2, 4][d & 3]! +
          (fcsFlag === 0 ? singleSegment : 1 << fcsFlag);
        this.hasChecksum = ((d >> 2) & 1) === 1;
        if (length === 0) this.startFrame(d, f.subarray(1, 1));
        else this.state = { kind: 'header-rest', descriptor: d, length };
        return;
      }
      case 'header-rest':
        this.startFrame(state.descriptor, f.subarray(0, state.length));
        return;
      case 'block-header': {
        const header = f[0]! | (f[1]! << 8) | (f[2]! << 16);
        const last = (header & 1) === 1;
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) this.fail('reserved zstd block type');
        if (size > this.blockLimit)
          this.fail(`zstd block of ${size} bytes exceeds the limit of ${this.blockLimit}`);
        this.frameOutputBound += type === 2 ? this.blockLimit : size;
        const then = last ? (this.hasChecksum ? 'checksum' : 'frame-end') : 'block-header';
        this.enterSkip(type === 1 ? 1 : size, then, false);
        return;
      }
      case 'checksum':
        this.pendingSkippable = false;
        this.endFrame(false);
        return;
    }
  }

  private startFrame(descriptor: number, rest: Uint8Array): void {
    const singleSegment = (descriptor >> 5) & 1;
    const fcsFlag = descriptor >> 6;
    let p = 0;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = rest[p++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    const dictIdSize = [0, 1, 2, 4][descriptor & 3]!;
    let dictId = 0;
    for (let k = 0; k < dictIdSize; k++) dictId += rest[p++]! * 2 ** (8 * k);
    if (dictId !== 0) this.fail(`zstd dictionaries are not supported (dictionary id ${dictId})`);
    const fcsSize = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
    this.declaresContentSize = fcsSize > 0;
    this.frameOutputBound = 0;
    if (fcsSize > 0) {
      let contentSize = 0;
      for (let k = 0; k < fcsSize; k++) contentSize += rest[p++]! * 2 ** (8 * k);
      if (fcsSize === 2) contentSize += 256;
      if (singleSegment) windowSize = contentSize;
      this.declaredTotal += contentSize;
      if (this.declaredTotal > this.maxOutputBytes) {
        throw new DecompressionLimitError(
          this.maxOutputBytes,
          `frame at offset ${this.frameStart} declares ${contentSize} bytes of content`,
        );
      }
    }
    if (windowSize > MAX_WINDOW_SIZE)
      this.fail(`zstd frame requires a ${windowSize}-byte window (max ${MAX_WINDOW_SIZE})`);
    this.windowSize = windowSize;
    this.blockLimit = Math.min(Math.max(windowSize, 1), MAX_BLOCK_SIZE);
    this.state = { kind: 'block-header' };
  }

  private enterSkip(
    count: number,
    then: 'block-header' | 'frame-end' | 'checksum',
    skippable: boolean,
  ): void {
    this.pendingSkippable = skippable;
    if (count === 0) this.afterSkip(then);
    else this.state = { kind: 'skip', remaining: count, then };
  }

  private afterSkip(then: 'block-header' | 'frame-end' | 'checksum'): void {
    if (then === 'block-header') this.state = { kind: 'block-header' };
    else if (then === 'checksum') this.state = { kind: 'checksum' };
    else this.endFrame(this.pendingSkippable);
  }

  private endFrame(skippable: boolean): void {
    this.inSkippable = false;
    this.frames.push({
      start: this.frameStart,
      end: this.offset,
      skippable,
      windowSize: skippable ? 0 : this.windowSize,
      declaresContentSize: skippable ? false : this.declaresContentSize,
      maxOutputBytes: skippable ? 0 : this.frameOutputBound,
    });
    this.state = { kind: 'magic' };
  }

  private fail(message: string): never {
    throw new DecompressionError(message, {
      details: `frame starting at offset ${this.frameStart}, near offset ${this.offset}`,
    });
  }
}

/** Validates a whole in-memory zstd stream; see ZstdFrameValidator. */
export function scanZstdFrames(input: Uint8Array, maxOutputBytes: number): ZstdFrameSpan[] {
  const validator = new ZstdFrameValidator(maxOutputBytes);
  validator.push(input);
  return validator.finish();
}
