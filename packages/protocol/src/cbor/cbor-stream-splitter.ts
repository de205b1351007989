import { readArgument } from './cbor-head';
import {
  CborDecodeError,
  CborNestingDepthError,
  CborUnexpectedEndError,
  CborUnsupportedItemError,
  DuplicateMapKeyError,
  TrailingBytesError,
} from './errors';

/** Where the splitter is: one entry per open array or map, outermost first. */
export interface CborSplitFrame {
  readonly map: boolean;
  /** Position of the item being read in its container (in a map, keys and values both count). */
  readonly index: number;
  /** In a map, while a value is read: its key when that key is a text string. */
  readonly key: string | undefined;
}

/** What to do with the content of one byte string. */
export interface CborSplitRoute {
  /** Receives the content in order, as it streams in. */
  sink: (chunk: Uint8Array) => void | Promise<void>;
  /** Called once the content is complete. */
  end?: () => void | Promise<void>;
  /** Also keep the content in the skeleton. Default false: an empty byte string stands in for it. */
  keep?: boolean;
}

/** Bytes kept by one or several splitters (one budget for everything a caller holds in memory). */
export interface CborKeptBudget {
  used: number;
  readonly max: number;
  /** The error thrown when keeping `wanted` more bytes would pass `max`. */
  tooLarge(wanted: number): Error;
}

export interface CborStreamSplitterOptions {
  /**
   * Called at the head of every byte string (`length` bytes, at `offset` in the input): a route
   * claims its content; undefined keeps it in the skeleton.
   */
  route(
    frames: readonly CborSplitFrame[],
    length: number,
    offset: number,
  ): CborSplitRoute | undefined | Promise<CborSplitRoute | undefined>;
  budget: CborKeptBudget;
  /** Maximum nesting of arrays and maps (the top-level item is depth 1). Default 16. */
  maxDepth?: number;
}

interface Frame extends CborSplitFrame {
  map: boolean;
  index: number;
  key: string | undefined;
  /** Items left (a map counts keys and values). */
  remaining: number;
  /** Offset of the container's head. */
  start: number;
  /** A map's keys so far (`mapKeyIdentity`), for duplicates. */
  keys: Set<string> | undefined;
}

/** What a completed item was, for the checks on map keys. */
type ItemKind = 'uint' | 'nint' | 'bytes' | 'text' | 'array' | 'map' | 'null';

type Mode =
  | { kind: 'head' }
  | { kind: 'kept'; remaining: number; text: boolean; start: number }
  | { kind: 'routed'; remaining: number; route: CborSplitRoute }
  | { kind: 'done' };

const EMPTY_BSTR = 0x40;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Walks one CBOR item as it streams in, without ever holding the large byte strings it carries:
 * the content of each byte string that `route` claims goes to the route's sink, and everything
 * else is kept — the "skeleton", with an empty byte string in place of each claimed one, for the
 * strict decoder (`decodeCbor` and the decoders built on it) to check once the item is complete.
 * Items are checked as `decodeCbor` checks them, in the same order, with the same errors (minimal
 * heads, definite lengths, no tags, no floats or simple values but null, bounded depth, UTF-8
 * text, integer or text map keys without duplicates), so nothing it would reject can make the
 * walk go astray. One thing it cannot check as early: a count or a length past the end of the
 * input, which is only known when the input ends (`CborUnexpectedEndError` then).
 *
 * Memory: the kept bytes (bounded by the budget; a string too long for it fails at its head,
 * before its content is read) and one head.
 */
export class CborStreamSplitter {
  private readonly kept: Uint8Array[] = [];
  private keptBytes = 0;
  private readonly head = new Uint8Array(9);
  private headUsed = 0;
  private headNeed = 1;
  private mode: Mode = { kind: 'head' };
  private readonly stack: Frame[] = [];
  private readonly maxDepth: number;
  /** Content of the text string being read (bounded by the budget). */
  private textParts: Uint8Array[] = [];
  /** Bytes consumed. */
  offset = 0;

  constructor(private readonly options: CborStreamSplitterOptions) {
    this.maxDepth = options.maxDepth ?? 16;
  }

  /** True once the top-level item is complete. */
  get done(): boolean {
    return this.mode.kind === 'done';
  }

  /** Consumes the next bytes (fails on bytes after the top-level item). */
  async push(chunk: Uint8Array): Promise<void> {
    let i = 0;
    while (i < chunk.length) {
      const mode = this.mode;
      if (mode.kind === 'done') throw new TrailingBytesError(this.offset, chunk.length - i);
      if (mode.kind === 'kept' || mode.kind === 'routed') {
        const n = Math.min(mode.remaining, chunk.length - i);
        const part = chunk.subarray(i, i + n);
        i += n;
        this.offset += n;
        mode.remaining -= n;
        if (mode.kind === 'kept') {
          this.keep(part);
          if (mode.text) this.textParts.push(part.slice());
        } else {
          if (mode.route.keep === true) this.keep(part);
          const pending = mode.route.sink(part);
          if (pending !== undefined) await pending;
        }
        if (mode.remaining === 0) await this.endString(mode);
        continue;
      }
      this.head[this.headUsed++] = chunk[i++]!;
      this.offset++;
      if (this.headUsed === 1) this.headNeed = headLength(this.head[0]!, this.offset - 1);
      if (this.headUsed === this.headNeed) await this.onHead();
    }
  }

  /** The skeleton, once the item is complete (else `CborUnexpectedEndError`). */
  finish(): Uint8Array {
    if (this.mode.kind !== 'done') {
      const missing =
        this.mode.kind === 'head' ? this.headNeed - this.headUsed || 1 : this.mode.remaining;
      throw new CborUnexpectedEndError(this.offset, missing, 0);
    }
    const out = new Uint8Array(this.keptBytes);
    let at = 0;
    for (const part of this.kept) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  private keep(part: Uint8Array): void {
    const budget = this.options.budget;
    if (budget.used + part.length > budget.max) throw budget.tooLarge(part.length);
    budget.used += part.length;
    this.keptBytes += part.length;
    this.kept.push(part.slice());
  }

  private async endString(mode: Extract<Mode, { kind: 'kept' | 'routed' }>): Promise<void> {
    this.mode = { kind: 'head' };
    if (mode.kind === 'routed') {
      const pending = mode.route.end?.();
      if (pending !== undefined) await pending;
      this.completeItem('bytes', undefined, this.offset);
      return;
    }
    if (!mode.text) {
      this.completeItem('bytes', undefined, mode.start);
      return;
    }
    const parts = this.textParts;
    this.textParts = [];
    let text: string;
    try {
      text = utf8.decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    } catch (cause) {
      throw new CborDecodeError('text string is not valid UTF-8', mode.start, String(cause));
    }
    this.completeItem('text', text, mode.start);
  }

  private async onHead(): Promise<void> {
    const head = this.head.subarray(0, this.headNeed);
    const start = this.offset - head.length;
    this.headUsed = 0;
    this.headNeed = 1;
    const major = head[0]! >> 5;
    const value = readArgument(head, start);
    // A container too deep fails as such whatever its count, as in decodeCbor (which checks the
    // depth first): one past the limit with a count past 2^53 was reported as a truncation.
    if ((major === 4 || major === 5) && this.stack.length + 1 > this.maxDepth) {
      throw new CborNestingDepthError(start, this.maxDepth);
    }
    // Lengths and counts past 2^53 cannot be real (every cap is far below that).
    if (typeof value === 'bigint' && major >= 2 && major <= 5) {
      throw new CborUnexpectedEndError(start, value, 0);
    }
    const arg = Number(value);
    const parent = this.stack.at(-1);
    const isKey = parent?.map === true && parent.index % 2 === 0;
    if (major === 2) {
      const route = isKey ? undefined : await this.options.route(this.stack, arg, start);
      if (route !== undefined) {
        if (route.keep === true) this.keep(head.slice());
        else this.keep(Uint8Array.of(EMPTY_BSTR));
        if (arg > 0) {
          this.mode = { kind: 'routed', remaining: arg, route };
          return;
        }
        await this.endString({ kind: 'routed', remaining: 0, route });
        return;
      }
    }
    this.keep(head.slice());
    if (major === 2 || major === 3) {
      const budget = this.options.budget;
      if (budget.used + arg > budget.max) throw budget.tooLarge(arg);
      if (arg > 0) {
        this.mode = { kind: 'kept', remaining: arg, text: major === 3, start };
        return;
      }
      this.completeItem(major === 3 ? 'text' : 'bytes', '', start);
      return;
    }
    if (major === 4 || major === 5) {
      const remaining = major === 5 ? arg * 2 : arg;
      if (remaining > 0) {
        const keys = major === 5 ? new Set<string>() : undefined;
        this.stack.push({ map: major === 5, index: 0, key: undefined, remaining, start, keys });
        return;
      }
      this.completeItem(major === 5 ? 'map' : 'array', undefined, start);
      return;
    }
    if (major === 7) this.completeItem('null', undefined, start);
    else if (major === 0) this.completeItem('uint', BigInt(value), start);
    else this.completeItem('nint', -1n - BigInt(value), start);
  }

  /**
   * One item ended (`value`: a text's string, an integer's value): count it in its container,
   * and the containers it completes. A map key must be an integer or a text, and unique, as
   * `decodeCbor` requires.
   */
  private completeItem(kind: ItemKind, value: string | bigint | undefined, start: number): void {
    for (;;) {
      const parent = this.stack.at(-1);
      if (parent === undefined) {
        this.mode = { kind: 'done' };
        return;
      }
      if (parent.map) {
        if (parent.index % 2 === 0) {
          if (kind !== 'uint' && kind !== 'nint' && kind !== 'text') {
            throw new CborUnsupportedItemError(start, `map key of kind ${kind}`);
          }
          const identity =
            kind === 'text' ? `text ${JSON.stringify(value)}` : `int ${value as bigint}`;
          if (parent.keys!.has(identity)) throw new DuplicateMapKeyError(start, identity);
          parent.keys!.add(identity);
          parent.key = kind === 'text' ? (value as string) : undefined;
        } else {
          parent.key = undefined;
        }
      }
      parent.index++;
      parent.remaining--;
      if (parent.remaining > 0) return;
      this.stack.pop();
      kind = parent.map ? 'map' : 'array';
      value = undefined;
      start = parent.start;
    }
  }
}

/** Length of the head that starts with `initial`, rejecting what `decodeCbor` rejects. */
function headLength(initial: number, start: number): number {
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
