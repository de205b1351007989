import { SyndDBError } from '@synddb/protocol';

/** An error as it crosses a worker boundary: its class name, stable code and text. */
export interface SerializedError {
  name: string;
  code: string;
  shortMessage: string;
  details: string | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof SyndDBError) {
    return {
      name: error.name,
      code: error.code,
      shortMessage: error.shortMessage,
      details: error.details,
    };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, code: 'INTERNAL', shortMessage: e.message, details: e.stack };
}

/**
 * An error raised in a prepare worker, rebuilt on the main thread with the same `name`, `code`
 * and message, so halts, logs and metrics read exactly as if it had been raised here.
 */
export class RemoteError extends SyndDBError {
  constructor(serialized: SerializedError) {
    super(serialized.code, serialized.shortMessage, { details: serialized.details });
    this.name = serialized.name;
  }
}
