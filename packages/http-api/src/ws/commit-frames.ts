import { MESSAGE_TYPE_NAMES } from '@synddb/protocol';
import type { AppliedMessage } from '@synddb/sync';
import { jsonInteger } from '../status/json-integer';
import type { SchemaView } from './row-changes';
import type { RowFrameCache } from './row-frames';
import { textFrame } from './text-frame';

/** One `applied` event: the messages of one commit, in sequence order. */
export interface Commit {
  readonly messages: readonly AppliedMessage[];
  /** Per message: the schema as it was when it was applied (changesets only, when known). */
  readonly schemas: readonly (SchemaView | undefined)[];
}

/** What a subscription receives: the channels, and for rows the `values` and table filter. */
export interface Shape {
  sequences: boolean;
  rows: { tables: ReadonlySet<string> | null; values: boolean } | null;
}

/** Everything one commit sends to the subscribers of one shape, framed: one socket write. */
export interface CommitOutput {
  /** The frames back to back (empty: nothing for this shape). */
  readonly data: Buffer;
  readonly sequences: number;
  readonly rows: number;
  /** `DECODE_FAILED` error frames (control). */
  readonly decodeErrors: number;
  /** Payload bytes of the `sequences` / `rows` / error frames. */
  readonly sequencesBytes: number;
  readonly rowsBytes: number;
  readonly controlBytes: number;
}

const OUTPUT_CACHE_COMMITS = 256;
const OUTPUT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The key of a shape: equal for subscriptions that receive the same frames. `tablesKey` is
 * `shapeTablesKey(tables)`, computed once per subscription.
 */
export function shapeKey(shape: Shape, tablesKey: string): string {
  const rows = shape.rows;
  return `${shape.sequences ? 's' : '-'}${rows === null ? '-' : `${rows.values ? 'v' : 'k'}${tablesKey}`}`;
}

/** The part of a shape key that names a rows subscription's tables. */
export function shapeTablesKey(tables: ReadonlySet<string> | null): string {
  return tables === null ? '*' : JSON.stringify([...tables].sort());
}

/**
 * The framed output of recent commits per subscription shape, built once and written to every
 * subscriber of that shape (a socket write of a shared buffer, no per-subscriber encoding). Kept
 * while recent (256 commits / 32 MiB, oldest dropped first): a subscriber further behind gets
 * its output built again, from the row frames of `rowFrames` while those are still cached.
 */
export class CommitFrameCache {
  readonly #entries = new Map<Commit, Map<string, CommitOutput>>();
  #bytes = 0;
  readonly #rowFrames: RowFrameCache;
  readonly #currentSchema: () => SchemaView;

  /** `currentSchema`: the schema of messages whose own is unknown (no rows subscriber then). */
  constructor(rowFrames: RowFrameCache, currentSchema: () => SchemaView) {
    this.#rowFrames = rowFrames;
    this.#currentSchema = currentSchema;
  }

  output(commit: Commit, shape: Shape, key: string): CommitOutput {
    let outputs = this.#entries.get(commit);
    const cached = outputs?.get(key);
    if (cached !== undefined) return cached;
    const output = this.#build(commit, shape);
    if (outputs === undefined) {
      outputs = new Map();
      this.#entries.set(commit, outputs);
    }
    outputs.set(key, output);
    this.#bytes += output.data.length;
    for (const [old, list] of this.#entries) {
      if (this.#entries.size <= OUTPUT_CACHE_COMMITS && this.#bytes <= OUTPUT_CACHE_BYTES) break;
      if (old === commit) break;
      this.#entries.delete(old);
      for (const o of list.values()) this.#bytes -= o.data.length;
    }
    return output;
  }

  #build(commit: Commit, shape: Shape): CommitOutput {
    const chunks: Buffer[] = [];
    let length = 0;
    const out = {
      sequences: 0,
      rows: 0,
      decodeErrors: 0,
      sequencesBytes: 0,
      rowsBytes: 0,
      controlBytes: 0,
    };
    const push = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    };
    /** A frame of one JSON text; returns its payload bytes. */
    const pushText = (text: string) => {
      const frame = textFrame(text);
      push(frame);
      return Buffer.byteLength(text);
    };
    const { rows } = shape;
    commit.messages.forEach((message, i) => {
      const sequence = jsonInteger(message.sequence);
      const type = MESSAGE_TYPE_NAMES[message.messageType] ?? 'unknown';
      if (shape.sequences) {
        out.sequences++;
        out.sequencesBytes += pushText(
          JSON.stringify({
            channel: 'sequences',
            sequence,
            timestamp: jsonInteger(message.timestamp),
            type,
          }),
        );
      }
      if (rows === null) return;
      if (type === 'snapshot') {
        out.rows++;
        out.rowsBytes += pushText(JSON.stringify({ channel: 'rows', sequence, op: 'SNAPSHOT' }));
      } else if (type === 'changeset') {
        const frames = this.#rowFrames.frames(
          message,
          commit.schemas[i] ?? this.#currentSchema(),
          rows.values,
        );
        if (frames instanceof Error) {
          out.decodeErrors++;
          out.controlBytes += pushText(
            JSON.stringify({
              op: 'error',
              code: 'DECODE_FAILED',
              message: `cannot decode a changeset of sequence ${sequence}`,
            }),
          );
        } else if (rows.tables === null) {
          if (frames.data.length > 0) push(frames.data);
          out.rows += frames.frames.length;
          out.rowsBytes += frames.payloadBytes;
        } else {
          for (const f of frames.frames) {
            if (!rows.tables.has(f.table)) continue;
            push(f.frame);
            out.rows++;
            out.rowsBytes += f.payloadBytes;
          }
        }
      }
    });
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
    return { data, ...out };
  }
}
