import {
  ERROR_KINDS,
  type ErrorKind,
  isSyndDBError,
  SyndDBError,
  walkErrorChain,
} from '@synddb/protocol';

/** An error as it crosses a worker boundary: its class name, stable code, kind and text. */
export interface SerializedError {
  name: string;
  code: string;
  kind: ErrorKind;
  shortMessage: string;
  details: string | undefined;
}

/**
 * The first SyndDBError on the error's cause chain, as the engine would classify it in-thread;
 * any other error as `INTERNAL` / `internal` with its stack as details.
 */
export function serializeError(error: unknown): SerializedError {
  const found = walkErrorChain(error, isSyndDBError);
  if (found !== null) {
    return {
      name: found.name,
      code: found.code,
      kind: found.kind,
      shortMessage: found.shortMessage,
      details: found.details,
    };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    name: e.name,
    code: 'INTERNAL',
    kind: 'internal',
    shortMessage: e.message,
    details: e.stack,
  };
}

/**
 * An error raised in a prepare worker, rebuilt on the main thread with the same `name`, `code`,
 * `kind` and message, so halts, logs and metrics read exactly as if it had been raised here.
 */
export class RemoteError extends SyndDBError {
  constructor(serialized: SerializedError) {
    super(serialized.code, serialized.shortMessage, {
      details: serialized.details,
      kind: Object.hasOwn(ERROR_KINDS, serialized.kind) ? serialized.kind : 'internal',
    });
    this.name = serialized.name;
  }
}
