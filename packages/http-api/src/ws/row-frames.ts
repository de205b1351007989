import type { AppliedMessage } from '@synddb/sync';
import { jsonInteger } from '../status/json-integer';
import { type RowChange, rowChanges, type SchemaView } from './row-changes';
import { textFrames } from './text-frame';

/** One `rows` data frame, with its table for per-subscription filtering. */
export interface RowFrame {
  table: string;
  /** The whole WebSocket frame (header and JSON payload): a view into `RowFrames.data`. */
  frame: Buffer;
  /** Bytes of the JSON payload alone. */
  payloadBytes: number;
}

/** The `rows` frames of one changeset message, framed once for every subscriber. */
export interface RowFrames {
  frames: RowFrame[];
  /** Every frame back to back: what a subscriber to all tables gets, in one buffer. */
  data: Buffer;
  /** Sum of the frames' payload bytes. */
  payloadBytes: number;
}

/** Decoded frames of recent messages, shared by clients at the same position. */
const FRAME_CACHE_ENTRIES = 256;
const FRAME_CACHE_BYTES = 32 * 1024 * 1024;

const rowJson = (sequence: number | string, change: RowChange, values: boolean) =>
  JSON.stringify({
    channel: 'rows',
    sequence,
    table: change.table,
    op: change.op,
    pk: change.pk,
    ...(values && change.old !== undefined ? { old: change.old } : {}),
    ...(values && change.new !== undefined ? { new: change.new } : {}),
  });

/**
 * The `rows` frames of applied changeset messages, decoded, serialized and framed once per
 * message and `values` setting, and kept for the other clients while recent (256 messages /
 * 32 MiB of frames, least recently decoded dropped first). A changeset that cannot be decoded
 * yields its error instead, also cached, so it is reported once per message.
 */
export class RowFrameCache {
  readonly #entries = new Map<
    AppliedMessage,
    { values: boolean; frames: RowFrames | Error; bytes: number }[]
  >();
  #bytes = 0;
  readonly #onDecodeFailure: (message: AppliedMessage, error: Error) => void;

  constructor(onDecodeFailure: (message: AppliedMessage, error: Error) => void) {
    this.#onDecodeFailure = onDecodeFailure;
  }

  /** The frames of `message` with column names from `schema`, or the decode error. */
  frames(message: AppliedMessage, schema: SchemaView, values: boolean): RowFrames | Error {
    const cached = this.#entries.get(message)?.find((c) => c.values === values);
    if (cached !== undefined) return cached.frames;
    const sequence = jsonInteger(message.sequence);
    let frames: RowFrames | Error;
    let bytes = 0;
    try {
      const tables: string[] = [];
      const texts: string[] = [];
      for (const changeset of message.changesets) {
        for (const change of rowChanges(changeset, schema)) {
          tables.push(change.table);
          texts.push(rowJson(sequence, change, values));
        }
      }
      const { data, bounds, lengths, payloadBytes } = textFrames(texts);
      const list: RowFrame[] = tables.map((table, i) => ({
        table,
        frame: data.subarray(bounds[i], bounds[i + 1]),
        payloadBytes: lengths[i]!,
      }));
      frames = { frames: list, data, payloadBytes };
      bytes = data.length;
    } catch (error) {
      frames = error instanceof Error ? error : new Error(String(error));
      this.#onDecodeFailure(message, frames);
    }
    const list = this.#entries.get(message) ?? [];
    list.push({ values, frames, bytes });
    this.#entries.delete(message);
    this.#entries.set(message, list);
    this.#bytes += bytes;
    for (const [key, old] of this.#entries) {
      if (this.#entries.size <= FRAME_CACHE_ENTRIES && this.#bytes <= FRAME_CACHE_BYTES) break;
      if (key === message) break;
      this.#entries.delete(key);
      for (const c of old) this.#bytes -= c.bytes;
    }
    return frames;
  }
}
